-- % of eligible 2-year-olds (on the DWP list for the term) found in the providers'
-- headcount for the same term with 2-year-old funding (linked on the match key).
WITH funded AS (
  SELECT DISTINCT period, key128(match_key) AS child FROM ey_headcount WHERE funding_type = 'two_year_old'
)
SELECT d.period, d.imd_quintile, d.ward_code, d.ward_name,
       CASE WHEN f.child IS NULL THEN 0 ELSE 1 END AS numerator, 1 AS denominator
FROM dwp_2yo d
LEFT JOIN funded f ON f.period = d.period AND f.child = key128(d.match_key)
