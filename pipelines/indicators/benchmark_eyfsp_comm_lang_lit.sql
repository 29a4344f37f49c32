-- England and the council's region from the DfE EYFSP file, as counts of
-- children (comm_lang_lit) so their intervals are computed the same way as the council's.
-- Symbols (c, x, z, u, low) are kept, never read as 0.
SELECT * FROM (
  SELECT
    SUBSTR(time_period, 1, 4) || '-' || SUBSTR(time_period, 5, 2) AS period,
    CASE geographic_level WHEN 'National' THEN 'england' ELSE 'region' END AS area_type,
    CASE geographic_level WHEN 'National' THEN country_code ELSE region_code END AS area_code,
    CASE geographic_level WHEN 'National' THEN country_name ELSE region_name END AS area_name,
    CASE
      WHEN characteristic = 'Total' AND gender = 'Total' THEN 'all'
      WHEN characteristic = 'Total' THEN 'sex'
      WHEN characteristic = 'Free school meal eligibility' AND gender = 'Total' THEN 'fsm'
      WHEN characteristic = 'Free school meal eligibility' THEN 'fsm_sex'
    END AS breakdown,
    CASE
      WHEN characteristic = 'Total' AND gender = 'Total' THEN 'All'
      WHEN characteristic = 'Total' THEN gender
      WHEN characteristic_type = 'Known to be eligible for free school meals' AND gender = 'Total' THEN 'FSM'
      WHEN characteristic_type = 'Not known to be eligible for free school meals' AND gender = 'Total' THEN 'Not FSM'
      WHEN characteristic_type = 'Known to be eligible for free school meals' AND gender = 'Boys' THEN 'FSM boys'
      WHEN characteristic_type = 'Known to be eligible for free school meals' AND gender = 'Girls' THEN 'FSM girls'
      WHEN characteristic_type = 'Not known to be eligible for free school meals' AND gender = 'Boys' THEN 'Not FSM boys'
      WHEN characteristic_type = 'Not known to be eligible for free school meals' AND gender = 'Girls' THEN 'Not FSM girls'
    END AS breakdown_value,
    TRY_CAST(comm_lang_lit_number AS BIGINT) AS numerator,
    TRY_CAST(children_number AS BIGINT) AS denominator,
    CASE WHEN comm_lang_lit_number IN ('c', 'x', 'z', 'u', 'low') THEN comm_lang_lit_number
         WHEN children_number IN ('c', 'x', 'z', 'u', 'low') THEN children_number END AS symbol
  FROM benchmark_eyfsp
  WHERE geographic_level = 'National'
     OR (geographic_level = 'Regional' AND region_code = '{{region_code}}')
) b
WHERE breakdown IS NOT NULL AND breakdown_value IS NOT NULL
