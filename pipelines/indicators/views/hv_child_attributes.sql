-- Each child's coded attributes (sex, ethnic group, deprivation, ward) as recorded
-- at each contact after birth, with the dates between which that contact is the
-- latest one: [valid_from, valid_to). The first contact's range also covers the time
-- before it. An indicator takes, for each child, the row whose range holds its
-- reference date (the day the child reached the cohort's age), so a child who moves
-- is counted in one ward, with that ward's own code and name, the same way by every
-- indicator. Contacts on one day are ordered by file and line: the last one wins.
WITH c AS (
  SELECT nhs_key, contact_date, sex, ethnic_group, imd_quintile, ward_code, ward_name,
         ROW_NUMBER() OVER (PARTITION BY nhs_key ORDER BY contact_date, source_file, source_line) AS n
  FROM hv_contacts
  WHERE contact_type <> 'antenatal'
)
SELECT nhs_key, sex, ethnic_group, imd_quintile, ward_code, ward_name,
       CASE WHEN n = 1 THEN DATE '1900-01-01' ELSE contact_date END AS valid_from,
       COALESCE(LEAD(contact_date) OVER (PARTITION BY nhs_key ORDER BY n), DATE '9999-12-31') AS valid_to
FROM c
