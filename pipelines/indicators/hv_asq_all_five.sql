-- Children at or above the expected level in all five ASQ-3 domains at 2–2½
-- (C6viii): of the children for whom all five were completed in the quarter.
SELECT period, sex, ethnic_group, imd_quintile, ward_code, ward_name,
       CASE WHEN comm_ok + gross_ok + fine_ok + problem_ok + personal_ok = 5 THEN 1 ELSE 0 END AS numerator,
       1 AS denominator
FROM asq_results
WHERE comm_done AND gross_done AND fine_done AND problem_done AND personal_done
  AND period IN (SELECT period FROM hv_quarters)
