-- New birth visits within 14 days (C2).
-- Denominator: children who turned 30 days old in the quarter (a cohort by age reached, not
-- the number of contacts). Numerator: a new birth visit at 14 days old or younger.
WITH done AS (
  SELECT c.nhs_key, MAX(CASE WHEN c.age_days <= 14 THEN 1 ELSE 0 END) AS ok
  FROM hv_contacts c JOIN hv_children k ON k.nhs_key = c.nhs_key
  WHERE c.contact_type = 'new_birth_visit'
  GROUP BY c.nhs_key
)
SELECT fy_quarter(add_days(k.dob, 30)) AS period, a.sex, a.ethnic_group, a.imd_quintile, a.ward_code, a.ward_name,
       COALESCE(d.ok, 0) AS numerator, 1 AS denominator
FROM hv_children k
JOIN hv_child_attributes a
  ON a.nhs_key = k.nhs_key AND add_days(k.dob, 30) >= a.valid_from AND add_days(k.dob, 30) < a.valid_to
LEFT JOIN done d ON d.nhs_key = k.nhs_key
WHERE fy_quarter(add_days(k.dob, 30)) IN (SELECT period FROM hv_quarters)
