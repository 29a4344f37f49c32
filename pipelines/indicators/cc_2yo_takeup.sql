-- % of eligible 2-year-olds (on the DWP list for the term) found in the providers'
-- headcount for the same term with 2-year-old funding (linked on the match key).
-- The term is CAST to VARCHAR in the DISTINCT: the lake gives partition columns as
-- dictionaries, which DataFusion groups row by row (a third slower, half as much
-- memory again, with 3 million children a term).
WITH funded AS (
  SELECT DISTINCT CAST(period AS VARCHAR) AS period, key128(match_key) AS child FROM ey_headcount WHERE funding_type = 'two_year_old'
)
SELECT d.period, d.imd_quintile, d.ward_code, d.ward_name,
       CASE WHEN f.child IS NULL THEN 0 ELSE 1 END AS numerator, 1 AS denominator
FROM dwp_2yo d
LEFT JOIN funded f ON f.period = d.period AND f.child = key128(d.match_key)
