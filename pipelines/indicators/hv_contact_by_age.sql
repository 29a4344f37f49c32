-- A family (see catalogue.toml): children who reached an age in the quarter, and
-- whether a contact of one type was done by then (or with a result).
--   {{age}}          the age, as views/hv_reached.sql names it (e.g. 30d, 12m)
--   {{contact_type}} the contact counted
--   {{done}}         when that contact counts, over c (the contact) and k (the child, with its dob)
-- Denominator: the children who reached the age in a quarter an extract was
-- delivered for (a cohort by age reached, not the number of contacts), with the
-- attributes recorded on the day they reached it. hv_reached keys each child by its
-- key128.
WITH cohort AS (
  SELECT * FROM hv_reached WHERE age = '{{age}}'
), done AS (
  SELECT k.nhs_key, MAX(CASE WHEN {{done}} THEN 1 ELSE 0 END) AS ok
  FROM hv_contacts c JOIN cohort k ON k.nhs_key = key128(c.nhs_key)
  WHERE c.contact_type = '{{contact_type}}'
  GROUP BY k.nhs_key
)
SELECT k.period, k.sex, k.ethnic_group, k.imd_quintile, k.ward_code, k.ward_name,
       COALESCE(d.ok, 0) AS numerator, 1 AS denominator
FROM cohort k
LEFT JOIN done d ON d.nhs_key = k.nhs_key
