-- 12-month reviews by 12 months (C4).
-- Denominator: children who turned 12 months old in the quarter (a cohort by age reached, not
-- the number of contacts). Numerator: a 12-month review on or before the first birthday (an earlier review counts).
WITH done AS (
  SELECT c.nhs_key, MAX(CASE WHEN c.contact_date <= add_months(k.dob, 12) THEN 1 ELSE 0 END) AS ok
  FROM hv_contacts c JOIN hv_children k ON k.nhs_key = c.nhs_key
  WHERE c.contact_type = 'review_12_month'
  GROUP BY c.nhs_key
)
SELECT fy_quarter(add_months(k.dob, 12)) AS period, a.sex, a.ethnic_group, a.imd_quintile, a.ward_code, a.ward_name,
       COALESCE(d.ok, 0) AS numerator, 1 AS denominator
FROM hv_children k
JOIN hv_child_attributes a
  ON a.nhs_key = k.nhs_key AND add_months(k.dob, 12) >= a.valid_from AND add_months(k.dob, 12) < a.valid_to
LEFT JOIN done d ON d.nhs_key = k.nhs_key
WHERE fy_quarter(add_months(k.dob, 12)) IN (SELECT period FROM hv_quarters)
