-- One row per child seen by health visiting after birth: the date of birth is
-- derived (contact date minus age in days) and never stored. The child is its
-- key128, as in hv_child_attributes. Attributes are taken at each indicator's
-- reference date (hv_child_attributes, hv_reached).
--
-- With it, what the contact-by-age family counts, per child and contact type, so
-- that family needs no join of its own (views/hv_reached.sql carries these columns
-- to every age): the first age in days, or the first date, of each contact, and
-- whether the 6–8 week review recorded breastfeeding. A "done by an age" test on
-- the first contact equals one on any contact. A new member of the family over
-- another contact type adds its column here.
--
-- Computed in parts of the children (in_part), like hv_child_attributes and
-- hv_child_history: each part groups its own children's contacts, read from that
-- part of hv_contact_rows (the contacts after birth, narrowed).
--
-- hv_child_history holds these rows in memory for its join (1.6 million children at
-- national size), so they are narrow: ages in days as 32-bit (ingest derives them from
-- two dates, so they fit), the breastfeeding flag as 8-bit numbers (hv_child_history
-- gives them back as BIGINT): its join held 123 MiB, now 100 MiB.
SELECT nhs_key,
       MIN(add_days(contact_date, -CAST(age_days AS BIGINT))) AS dob,
       MIN(CASE WHEN contact_type = 'new_birth_visit' THEN age_days END) AS new_birth_visit_age_days,
       MIN(CASE WHEN contact_type = 'review_6_8_week' THEN age_days END) AS review_6_8_week_age_days,
       arrow_cast(MAX(CASE WHEN contact_type = 'review_6_8_week' AND infant_feeding IN ('totally', 'partially') THEN 1 ELSE 0 END), 'Int8')
         AS review_6_8_week_breastfeeding,
       MIN(CASE WHEN contact_type = 'review_12_month' THEN contact_date END) AS review_12_month_date,
       MIN(CASE WHEN contact_type = 'review_2_year' THEN contact_date END) AS review_2_year_date
FROM hv_contact_rows
WHERE in_part(nhs_key)
GROUP BY nhs_key
