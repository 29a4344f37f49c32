-- GLD at 5 by the child's ASQ-3 communication result at the 2–2½ year review
-- (the most recent review with a communication score), linked on the NHS number.
WITH asq AS (
  SELECT nhs_key, MAX(comm_ok) AS comm_ok FROM asq_results WHERE comm_done GROUP BY nhs_key
)
SELECT o.period, o.sex, o.fsm,
       CASE WHEN a.comm_ok = 1 THEN 'At or above expected' ELSE 'Below expected' END AS group_value,
       o.gld AS numerator, 1 AS denominator
FROM eyfsp_outcomes o
JOIN asq a ON a.nhs_key = o.nhs_key
