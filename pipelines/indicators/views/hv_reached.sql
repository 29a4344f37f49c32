-- Each child seen by health visiting, at each age a health-visiting cohort is taken
-- at (30 and 56 days, 12, 15 and 30 months), in the quarter it reached that age
-- (only quarters an extract was delivered for), with the attributes recorded on
-- that day: the hv_child_history row whose [valid_from, valid_to) holds the day
-- (exactly one per child and age). The child's contact facts from hv_children come
-- along, so the contact-by-age family (catalogue.toml) counts from this view in one pass; add an
-- age here to use it there. Each age is a filtered scan: no join, nothing held in
-- memory.
WITH ages AS (
  SELECT '30d' AS age, h.*, add_days(dob, 30) AS reached FROM hv_child_history h
  UNION ALL SELECT '56d' AS age, h.*, add_days(dob, 56) AS reached FROM hv_child_history h
  UNION ALL SELECT '12m' AS age, h.*, add_months(dob, 12) AS reached FROM hv_child_history h
  UNION ALL SELECT '15m' AS age, h.*, add_months(dob, 15) AS reached FROM hv_child_history h
  UNION ALL SELECT '30m' AS age, h.*, add_months(dob, 30) AS reached FROM hv_child_history h
), reached AS (
  SELECT *, fy_quarter(reached) AS period FROM ages WHERE reached >= valid_from AND reached < valid_to
)
SELECT age, nhs_key, dob, reached, period,
       sex, ethnic_group, imd_quintile, ward_code, ward_name,
       new_birth_visit_age_days, review_6_8_week_age_days, review_6_8_week_breastfeeding,
       review_12_month_date, review_2_year_date
FROM reached
WHERE period IN (SELECT period FROM hv_quarters)
