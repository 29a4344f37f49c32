-- Children at or above the expected level in ASQ-3 fine_motor at 2–2½ (C6v): of the
-- children for whom that domain was completed in the quarter.
SELECT period, sex, ethnic_group, imd_quintile, ward_code, ward_name, fine_ok AS numerator, 1 AS denominator
FROM asq_results
WHERE fine_done AND period IN (SELECT period FROM hv_quarters)
