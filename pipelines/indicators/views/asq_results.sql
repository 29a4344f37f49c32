-- Each 2–2½ year review that used ASQ-3, with each domain at or above the
-- expected level (score above the cut-off for its questionnaire) or not, and
-- whether its quarter is one an extract was delivered for.
--
-- The delivered quarters are one row (an array) crossed with the reviews, not a
-- join on the quarter: DataFusion built that join's hash table from the 445,000
-- reviews of a national lake (125 MB) rather than from the four quarters.
SELECT
  r.nhs_key, r.contact_date, fy_quarter(r.contact_date) AS period,
  r.sex, r.ethnic_group, r.imd_quintile, r.ward_code, r.ward_name,
  r.asq_communication IS NOT NULL AS comm_done,
  r.asq_gross_motor IS NOT NULL AS gross_done,
  r.asq_fine_motor IS NOT NULL AS fine_done,
  r.asq_problem_solving IS NOT NULL AS problem_done,
  r.asq_personal_social IS NOT NULL AS personal_done,
  CASE WHEN r.asq_communication > c1.cut THEN 1 ELSE 0 END AS comm_ok,
  CASE WHEN r.asq_gross_motor > c2.cut THEN 1 ELSE 0 END AS gross_ok,
  CASE WHEN r.asq_fine_motor > c3.cut THEN 1 ELSE 0 END AS fine_ok,
  CASE WHEN r.asq_problem_solving > c4.cut THEN 1 ELSE 0 END AS problem_ok,
  CASE WHEN r.asq_personal_social > c5.cut THEN 1 ELSE 0 END AS personal_ok,
  COALESCE(array_has(q.periods, fy_quarter(r.contact_date)), false) AS delivered_quarter
FROM (SELECT array_agg(DISTINCT CAST(period AS VARCHAR)) AS periods FROM hv_contacts) q
CROSS JOIN hv_contacts r
LEFT JOIN (SELECT CAST(interval_months AS BIGINT) AS m, CAST(cutoff AS DOUBLE) AS cut FROM ref_asq3_cutoffs WHERE domain = 'communication') c1 ON c1.m = r.asq_questionnaire
LEFT JOIN (SELECT CAST(interval_months AS BIGINT) AS m, CAST(cutoff AS DOUBLE) AS cut FROM ref_asq3_cutoffs WHERE domain = 'gross_motor') c2 ON c2.m = r.asq_questionnaire
LEFT JOIN (SELECT CAST(interval_months AS BIGINT) AS m, CAST(cutoff AS DOUBLE) AS cut FROM ref_asq3_cutoffs WHERE domain = 'fine_motor') c3 ON c3.m = r.asq_questionnaire
LEFT JOIN (SELECT CAST(interval_months AS BIGINT) AS m, CAST(cutoff AS DOUBLE) AS cut FROM ref_asq3_cutoffs WHERE domain = 'problem_solving') c4 ON c4.m = r.asq_questionnaire
LEFT JOIN (SELECT CAST(interval_months AS BIGINT) AS m, CAST(cutoff AS DOUBLE) AS cut FROM ref_asq3_cutoffs WHERE domain = 'personal_social') c5 ON c5.m = r.asq_questionnaire
WHERE r.contact_type = 'review_2_year' AND r.asq_questionnaire IS NOT NULL
