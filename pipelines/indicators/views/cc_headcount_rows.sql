-- The funded 3- and 4-year-old places of each term's headcount (universal 15 hours
-- or extended 30) that the childcare counts read (cc_funded_counts, cc_30h_counts),
-- narrowed once: the child is its key128 (16 bytes, not 64 hex digits). The term is
-- CAST to VARCHAR: the lake gives partition columns as dictionaries, which
-- DataFusion groups row by row (a third slower, half as much memory again).
--
-- In parts of the children (in_part), and only projecting and filtering one table,
-- so the engine scatters it: ey_headcount (3.7 million rows at national size) is
-- read once and each row written to its child's part; each part's DISTINCT then
-- reads only that part's narrow rows (README, "Views in parts").
SELECT CAST(period AS VARCHAR) AS period, key128(match_key) AS child, funding_type,
       provider_type, imd_quintile, ward_code, ward_name
FROM ey_headcount
WHERE funding_type IN ('universal_15', 'extended_30') AND in_part(match_key)
