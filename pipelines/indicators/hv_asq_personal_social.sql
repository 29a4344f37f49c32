-- Children at or above the expected level in ASQ-3 personal_social at 2–2½ (C6vii): of the
-- children for whom that domain was completed in the quarter.
SELECT period, sex, ethnic_group, imd_quintile, ward_code, ward_name, personal_ok AS numerator, 1 AS denominator
FROM asq_results
WHERE personal_done AND period IN (SELECT period FROM hv_quarters)
