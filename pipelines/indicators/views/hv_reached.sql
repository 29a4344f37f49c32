-- Each child seen by health visiting, at each age a health-visiting cohort is taken
-- at (30 and 56 days, 12, 15 and 30 months), in the quarter it reached that age
-- (only quarters an extract was delivered for), with the attributes recorded on
-- that day (hv_child_attributes). One join serves every age and every indicator
-- of the hv_contact_by_age family; add an age here to use it there.
WITH ages AS (
  SELECT nhs_key, dob, '30d' AS age, add_days(dob, 30) AS reached FROM hv_children
  UNION ALL SELECT nhs_key, dob, '56d' AS age, add_days(dob, 56) AS reached FROM hv_children
  UNION ALL SELECT nhs_key, dob, '12m' AS age, add_months(dob, 12) AS reached FROM hv_children
  UNION ALL SELECT nhs_key, dob, '15m' AS age, add_months(dob, 15) AS reached FROM hv_children
  UNION ALL SELECT nhs_key, dob, '30m' AS age, add_months(dob, 30) AS reached FROM hv_children
), cohort AS (
  SELECT nhs_key, dob, age, reached, fy_quarter(reached) AS period
  FROM ages
  WHERE fy_quarter(reached) IN (SELECT period FROM hv_quarters)
)
SELECT k.age, k.nhs_key, k.dob, k.reached, k.period,
       a.sex, a.ethnic_group, a.imd_quintile, a.ward_code, a.ward_name
FROM cohort k
JOIN hv_child_attributes a ON a.nhs_key = k.nhs_key AND k.reached >= a.valid_from AND k.reached < a.valid_to
