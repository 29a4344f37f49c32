-- 6–8 week reviews by 8 weeks (C8i).
-- Denominator: children who turned 8 weeks (56 days) old in the quarter (a cohort by age reached, not
-- the number of contacts). Numerator: a 6–8 week review by 56 days old.
WITH done AS (
  SELECT c.nhs_key, MAX(CASE WHEN c.age_days <= 56 THEN 1 ELSE 0 END) AS ok
  FROM hv_contacts c JOIN hv_children k ON k.nhs_key = c.nhs_key
  WHERE c.contact_type = 'review_6_8_week'
  GROUP BY c.nhs_key
)
SELECT fy_quarter(add_days(k.dob, 56)) AS period, a.sex, a.ethnic_group, a.imd_quintile, a.ward_code, a.ward_name,
       COALESCE(d.ok, 0) AS numerator, 1 AS denominator
FROM hv_children k
JOIN hv_child_attributes a
  ON a.nhs_key = k.nhs_key AND add_days(k.dob, 56) >= a.valid_from AND add_days(k.dob, 56) < a.valid_to
LEFT JOIN done d ON d.nhs_key = k.nhs_key
WHERE fy_quarter(add_days(k.dob, 56)) IN (SELECT period FROM hv_quarters)
