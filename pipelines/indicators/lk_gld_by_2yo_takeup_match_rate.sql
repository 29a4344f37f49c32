-- Match rate of lk_gld_by_2yo_takeup: % of children on a DWP 2-year-old list who
-- are found in the EYFSP extract of their Reception year (children born
-- September to August five years before it). Keys as key128 (16 bytes, not 64
-- hex digits): the DISTINCTs hold every listed child and every Reception child.
WITH listed AS (SELECT DISTINCT key128(match_key) AS match_key, birth_month FROM dwp_2yo),
     years AS (SELECT DISTINCT period FROM eyfsp),
     found AS (SELECT DISTINCT period, key128(match_key) AS match_key FROM eyfsp)
SELECT y.period, CASE WHEN f.match_key IS NULL THEN 0 ELSE 1 END AS numerator, 1 AS denominator
FROM listed l
JOIN years y
  ON l.birth_month >= CAST(CAST(SUBSTR(y.period, 1, 4) AS BIGINT) - 5 AS VARCHAR) || '-09'
 AND l.birth_month <= CAST(CAST(SUBSTR(y.period, 1, 4) AS BIGINT) - 4 AS VARCHAR) || '-08'
LEFT JOIN found f ON f.match_key = l.match_key AND f.period = y.period
