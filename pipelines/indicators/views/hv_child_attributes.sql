-- Each child's coded attributes (sex, ethnic group, deprivation, ward) as recorded
-- at each contact after birth, with the dates between which that contact is the
-- latest one: [valid_from, valid_to). The first contact's range also covers the time
-- before it. An indicator takes, for each child, the row whose range holds its
-- reference date (the day the child reached the cohort's age), so a child who moves
-- is counted in one ward, with that ward's own code and name, the same way by every
-- indicator. Contacts on one day are ordered by file and line: the last one wins.
--
-- Speed and memory (2.6 million contacts): one ordering of all contacts, each row
-- compared with the previous and next by child, is several times faster in
-- DataFusion than a window PARTITIONed BY child. The sort holds every contact, so
-- what it carries is small (hv_contact_rows narrowed it): the child is its key128
-- (16 bytes, not 64 hex digits), the attributes are dictionary-encoded before it
-- (window functions over the lake's sliced `Utf8View` arrays also copy them again and
-- again), and every column is as narrow as its values allow (1- and 2-byte dictionary
-- keys, an 8-bit quintile, a 32-bit line number: 25 bytes a contact fewer, the sort's
-- memory 245 → 157 MiB at national size in one part); the published types come back
-- after it. LAG and LEAD take no
-- frame; the ROWS frame is stated because the default RANGE frame cannot order
-- bytes. The date of birth is joined on in hv_child_history, not here, so this sort
-- and that join never hold memory at once. The view is computed in parts of the
-- children (in_part): the sort holds one part's contacts at a time (about
-- [compute] part_rows), however many children the lake has, read from that part of
-- hv_contact_rows.
SELECT nhs_key,
       arrow_cast(sex, 'Dictionary(Int32, Utf8)') AS sex,
       arrow_cast(ethnic_group, 'Dictionary(Int32, Utf8)') AS ethnic_group,
       CAST(imd_quintile AS BIGINT) AS imd_quintile,
       arrow_cast(ward_code, 'Dictionary(Int32, Utf8)') AS ward_code,
       arrow_cast(ward_name, 'Dictionary(Int32, Utf8)') AS ward_name,
       CASE WHEN LAG(nhs_key) OVER w = nhs_key THEN contact_date ELSE DATE '1900-01-01' END AS valid_from,
       CASE WHEN LEAD(nhs_key) OVER w = nhs_key THEN LEAD(contact_date) OVER w ELSE DATE '9999-12-31' END AS valid_to
FROM hv_contact_rows
WHERE in_part(nhs_key)
WINDOW w AS (ORDER BY nhs_key, contact_date, source_file, source_line ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
