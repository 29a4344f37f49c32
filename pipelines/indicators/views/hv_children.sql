-- One row per child seen by health visiting after birth: the date of birth is
-- derived (contact date minus age in days) and never stored. Attributes are taken
-- at each indicator's reference date from hv_child_attributes. The child is its
-- key128, as in hv_child_attributes.
SELECT key128(nhs_key) AS nhs_key, MIN(add_days(contact_date, -age_days)) AS dob
FROM hv_contacts
WHERE contact_type <> 'antenatal'
GROUP BY key128(nhs_key)
