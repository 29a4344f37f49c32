-- Each row of hv_child_attributes (a child's attributes and the dates they held)
-- with the child's date of birth and contact facts from hv_children: one join,
-- holding the children (not their contacts) in memory, so that hv_reached needs none.
-- hv_children's narrow facts come back as BIGINT here.
--
-- In parts of the children (in_part), like the two views it joins: while a part is
-- computed they hold that part's children only, so the join holds one part's
-- children at a time.
SELECT a.*, c.dob, CAST(c.new_birth_visit_age_days AS BIGINT) AS new_birth_visit_age_days,
       CAST(c.review_6_8_week_age_days AS BIGINT) AS review_6_8_week_age_days,
       CAST(c.review_6_8_week_breastfeeding AS BIGINT) AS review_6_8_week_breastfeeding,
       c.review_12_month_date, c.review_2_year_date
FROM hv_child_attributes a
JOIN hv_children c ON c.nhs_key = a.nhs_key
WHERE in_part(a.nhs_key)
