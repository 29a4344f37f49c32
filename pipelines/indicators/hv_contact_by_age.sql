-- A family (see catalogue.toml): children who reached an age in the quarter, and
-- whether a contact of one type was done by then (or with a result).
--   {{reached}}      the day the child reached the age, from k.dob
--   {{contact_type}} the contact counted
--   {{done}}         when that contact counts, over c (the contact) and k (the child)
-- Denominator: the children who reached the age in a quarter an extract was
-- delivered for (a cohort by age reached, not the number of contacts).
-- Attributes are those recorded on the day the age was reached.
WITH cohort AS (
  SELECT k.nhs_key, k.dob, {{reached}} AS reached, fy_quarter({{reached}}) AS period
  FROM hv_children k
  WHERE fy_quarter({{reached}}) IN (SELECT period FROM hv_quarters)
), done AS (
  SELECT c.nhs_key, MAX(CASE WHEN {{done}} THEN 1 ELSE 0 END) AS ok
  FROM hv_contacts c JOIN cohort k ON k.nhs_key = c.nhs_key
  WHERE c.contact_type = '{{contact_type}}'
  GROUP BY c.nhs_key
)
SELECT k.period, a.sex, a.ethnic_group, a.imd_quintile, a.ward_code, a.ward_name,
       COALESCE(d.ok, 0) AS numerator, 1 AS denominator
FROM cohort k
JOIN hv_child_attributes a ON a.nhs_key = k.nhs_key AND k.reached >= a.valid_from AND k.reached < a.valid_to
LEFT JOIN done d ON d.nhs_key = k.nhs_key
