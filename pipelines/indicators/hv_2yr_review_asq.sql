-- 2–2½ year reviews that used ASQ-3 (C6ii): of the reviews done in the quarter.
SELECT fy_quarter(contact_date) AS period, sex, ethnic_group, imd_quintile, ward_code, ward_name,
       CASE WHEN asq_questionnaire IS NOT NULL THEN 1 ELSE 0 END AS numerator, 1 AS denominator
FROM hv_contacts
WHERE contact_type = 'review_2_year' AND fy_quarter(contact_date) IN (SELECT period FROM hv_quarters)
