-- Match rate of lk_gld_by_asq_communication: % of children assessed at the end
-- of Reception whose ASQ-3 communication result at 2–2½ is found (on the NHS number).
WITH asq AS (SELECT DISTINCT nhs_key FROM asq_results WHERE comm_done)
SELECT o.period, o.sex, o.fsm,
       CASE WHEN a.nhs_key IS NULL THEN 0 ELSE 1 END AS numerator, 1 AS denominator
FROM eyfsp_outcomes o LEFT JOIN asq a ON a.nhs_key = o.nhs_key
