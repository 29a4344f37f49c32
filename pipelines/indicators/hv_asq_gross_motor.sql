-- Children at or above the expected level in ASQ-3 gross_motor at 2–2½ (C6iv): of the
-- children for whom that domain was completed in the quarter.
SELECT period, sex, ethnic_group, imd_quintile, ward_code, ward_name, gross_ok AS numerator, 1 AS denominator
FROM asq_results
WHERE gross_done AND period IN (SELECT period FROM hv_quarters)
