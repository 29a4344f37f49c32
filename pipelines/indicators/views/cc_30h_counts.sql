-- Children with an extended (30-hour) place in each term's headcount, counted by
-- provider type, deprivation and ward: a child at two providers of one type is one
-- child there (DISTINCT), one at providers of two types is counted in each.
--
-- Computed in parts of the children (in_part): each part's DISTINCT holds only that
-- part's (term, child) pairs (3 million a term at national size held at once took a
-- 200 MiB hash table), and gives that part's counts, so the view has a row per group
-- per part: readers add them up (cc_30h_places.sql). It reads the part's rows of
-- cc_headcount_rows (the funded places, narrowed).
SELECT period, provider_type, imd_quintile, ward_code, ward_name, COUNT(*) AS children
FROM (SELECT DISTINCT period, child, provider_type, imd_quintile, ward_code, ward_name
      FROM cc_headcount_rows WHERE funding_type = 'extended_30' AND in_part(child)) h
GROUP BY period, provider_type, imd_quintile, ward_code, ward_name
