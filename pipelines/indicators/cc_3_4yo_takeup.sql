-- % of 3- and 4-year-olds taking up the universal 15 hours (or the extended 30,
-- which includes it): funded children in the term's headcount ÷ the mid-year
-- population estimate of 3- and 4-year-olds (can exceed 100%, as nationally).
-- The term is CAST to VARCHAR in the DISTINCT: the lake gives partition columns as
-- dictionaries, which DataFusion groups row by row (a third slower, half as much
-- memory again, with 3 million children a term).
SELECT period, 1 AS numerator, 0 AS denominator
FROM (SELECT DISTINCT CAST(period AS VARCHAR) AS period, key128(match_key) AS child
      FROM ey_headcount WHERE funding_type IN ('universal_15', 'extended_30')) f
UNION ALL
SELECT t.period, 0 AS numerator, SUM(CAST(p.population AS BIGINT)) AS denominator
FROM (SELECT DISTINCT period FROM ey_headcount) t
JOIN ref_population_estimates p
  ON p.area_code = '{{la_code}}' AND p.year = SUBSTR(t.period, 1, 4) AND p.age IN ('3', '4')
GROUP BY t.period
