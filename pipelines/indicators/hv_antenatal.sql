-- Antenatal contacts in the quarter (C1): a count.
SELECT fy_quarter(contact_date) AS period, ward_code, ward_name, imd_quintile, 1 AS numerator, 1 AS denominator
FROM hv_contacts
WHERE contact_type = 'antenatal' AND fy_quarter(contact_date) IN (SELECT period FROM hv_quarters)
