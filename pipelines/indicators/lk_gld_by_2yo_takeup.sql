-- GLD at 5 of children who were eligible for the funded 2-year-old place (on any
-- DWP list), by whether they took it up (found in any headcount with 2-year-old
-- funding). Linked on the match key, as key128 (16 bytes, not 64 hex digits).
WITH eligible AS (SELECT DISTINCT key128(match_key) AS match_key FROM dwp_2yo),
     took AS (SELECT DISTINCT key128(match_key) AS match_key FROM ey_headcount WHERE funding_type = 'two_year_old')
SELECT o.period, o.sex, o.fsm,
       CASE WHEN t.match_key IS NULL THEN 'Did not take up' ELSE 'Took up' END AS group_value,
       o.gld AS numerator, 1 AS denominator
FROM eyfsp_outcomes o
JOIN eligible e ON e.match_key = key128(o.match_key)
LEFT JOIN took t ON t.match_key = key128(o.match_key)
