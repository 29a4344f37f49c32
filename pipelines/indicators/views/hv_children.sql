-- One row per child seen by health visiting after birth: the date of birth is
-- derived (contact date minus age in days) and never stored.
SELECT
  nhs_key,
  MIN(add_days(contact_date, -age_days)) AS dob,
  MAX(sex) AS sex, MAX(ethnic_group) AS ethnic_group, MAX(imd_quintile) AS imd_quintile,
  MAX(ward_code) AS ward_code, MAX(ward_name) AS ward_name
FROM hv_contacts
WHERE contact_type <> 'antenatal'
GROUP BY nhs_key
