-- % of 3- and 4-year-olds taking up the universal 15 hours (or the extended 30,
-- which includes it): funded children in the term's headcount ÷ the mid-year
-- population estimate of 3- and 4-year-olds (can exceed 100%, as nationally).
-- views/cc_funded_counts.sql counts the children, in parts of the children; the
-- engine adds the parts' counts up.
SELECT period, children AS numerator, 0 AS denominator
FROM cc_funded_counts
UNION ALL
SELECT t.period, 0 AS numerator, SUM(CAST(p.population AS BIGINT)) AS denominator
FROM (SELECT DISTINCT CAST(period AS VARCHAR) AS period FROM ey_headcount) t
JOIN ref_population_estimates p
  ON p.area_code = '{{la_code}}' AND p.year = SUBSTR(t.period, 1, 4) AND p.age IN ('3', '4')
GROUP BY t.period
