-- England and region: the published average number of ELGs at the expected level
-- (no counts to rebuild an interval from, so none is shown).
SELECT period, area_type, area_code, area_name, breakdown, breakdown_value,
       CAST(NULL AS BIGINT) AS numerator,
       TRY_CAST(children_number AS BIGINT) AS denominator,
       TRY_CAST(average_elgs AS DOUBLE) AS value,
       CASE WHEN average_elgs IN ('c', 'x', 'z', 'u', 'low') THEN average_elgs END AS symbol
FROM benchmark_eyfsp_rows
