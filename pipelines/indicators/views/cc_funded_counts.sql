-- Funded 3- and 4-year-olds (universal 15 hours or extended 30) in each term's
-- headcount: each child once a term, however many providers or funding lines.
--
-- Computed in parts of the children (in_part): each part's DISTINCT holds only that
-- part's (term, child) pairs (3 million a term at national size held at once took a
-- 200 MiB hash table), and gives that part's count, so the view has a row per term
-- per part: readers add them up (cc_3_4yo_takeup.sql). It reads the part's rows of
-- cc_headcount_rows (the funded places, narrowed).
SELECT period, COUNT(*) AS children
FROM (SELECT DISTINCT period, child FROM cc_headcount_rows WHERE in_part(child)) f
GROUP BY period
