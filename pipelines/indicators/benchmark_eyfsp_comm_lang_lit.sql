-- England and region: children achieving the measure (comm_lang_lit) of all children, as
-- counts, so their intervals are computed the same way as the council's.
SELECT period, area_type, area_code, area_name, breakdown, breakdown_value,
       TRY_CAST(comm_lang_lit_number AS BIGINT) AS numerator,
       TRY_CAST(children_number AS BIGINT) AS denominator,
       CASE WHEN comm_lang_lit_number IN ('c', 'x', 'z', 'u', 'low') THEN comm_lang_lit_number
            WHEN children_number IN ('c', 'x', 'z', 'u', 'low') THEN children_number END AS symbol
FROM benchmark_eyfsp_rows
