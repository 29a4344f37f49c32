-- England and region: children achieving the measure (gld) of all children, as
-- counts, so their intervals are computed the same way as the council's.
SELECT period, area_type, area_code, area_name, breakdown, breakdown_value,
       TRY_CAST(gld_number AS BIGINT) AS numerator,
       TRY_CAST(children_number AS BIGINT) AS denominator,
       CASE WHEN gld_number IN ('c', 'x', 'z', 'u', 'low') THEN gld_number
            WHEN children_number IN ('c', 'x', 'z', 'u', 'low') THEN children_number END AS symbol
FROM benchmark_eyfsp_rows
