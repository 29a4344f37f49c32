-- England, the council's region and every council (the engine publishes the
-- configured comparators; the others give the spread of councils in the report) from the DfE EYFSP headline measures file,
-- mapped to the scorecard's periods, areas and breakdowns. Measures stay as
-- published text: symbols (c, x, z, u, low) are kept, never read as 0.
SELECT * FROM (
  SELECT
    SUBSTR(time_period, 1, 4) || '-' || SUBSTR(time_period, 5, 2) AS period,
    CASE geographic_level WHEN 'National' THEN 'england' WHEN 'Regional' THEN 'region' ELSE 'local_authority' END AS area_type,
    CASE geographic_level WHEN 'National' THEN country_code WHEN 'Regional' THEN region_code ELSE new_la_code END AS area_code,
    CASE geographic_level WHEN 'National' THEN country_name WHEN 'Regional' THEN region_name ELSE la_name END AS area_name,
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
    children_number, gld_number, elg_number, comm_lang_lit_number, average_elgs
  FROM benchmark_eyfsp
  WHERE geographic_level = 'National'
     OR (geographic_level = 'Regional' AND region_code = '{{region_code}}')
     OR geographic_level = 'Local authority'
) b
WHERE breakdown IS NOT NULL AND breakdown_value IS NOT NULL
