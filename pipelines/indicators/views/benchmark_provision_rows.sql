-- England, the council's region and every council (the engine publishes the
-- configured comparators; the others give the spread of councils in the report) from the DfE "education provision: children
-- under 5" file (15-hour entitlement). Its January census falls in the spring
-- term: reporting year 2025 is the spring term of 2024/25 (period key 2024-spring).
SELECT
  CAST(CAST(time_period AS BIGINT) - 1 AS VARCHAR) || '-spring' AS period,
  CASE geographic_level WHEN 'National' THEN 'england' WHEN 'Regional' THEN 'region' ELSE 'local_authority' END AS area_type,
  CASE geographic_level WHEN 'National' THEN country_code WHEN 'Regional' THEN region_code ELSE new_la_code END AS area_code,
  CASE geographic_level WHEN 'National' THEN country_name WHEN 'Regional' THEN region_name ELSE la_name END AS area_name,
  'all' AS breakdown, 'All' AS breakdown_value, age,
  TRY_CAST(number_children AS BIGINT) AS numerator,
  TRY_CAST(number_eligible_children AS BIGINT) AS denominator,
  CASE WHEN number_children IN ('c', 'x', 'z', 'u', 'low') THEN number_children
       WHEN number_eligible_children IN ('c', 'x', 'z', 'u', 'low') THEN number_eligible_children END AS symbol
FROM benchmark_early_years_provision
WHERE entitlement_type = '15-hour entitlement'
  AND (geographic_level = 'National'
       OR (geographic_level = 'Regional' AND region_code = '{{region_code}}')
       OR geographic_level = 'Local authority')
