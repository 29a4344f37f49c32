-- Funded 3- and 4-year-olds (universal 15 hours or extended 30) in each term's
-- headcount: each child once a term, however many providers or funding lines.
--
-- Computed in parts of the children (in_part): each part's DISTINCT holds only that
-- part's (term, child) pairs (3 million a term at national size held at once took a
-- 200 MiB hash table), and gives that part's count, so the view has a row per term
-- per part: readers add them up (cc_3_4yo_takeup.sql). The term is CAST to VARCHAR
-- in the DISTINCT (see cc_30h_counts.sql).
SELECT period, COUNT(*) AS children
FROM (SELECT DISTINCT CAST(period AS VARCHAR) AS period, key128(match_key) AS child
      FROM ey_headcount WHERE funding_type IN ('universal_15', 'extended_30') AND in_part(match_key)) f
GROUP BY period
