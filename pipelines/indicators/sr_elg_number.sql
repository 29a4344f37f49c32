-- % of children at the expected level in the ELG "number".
SELECT period, sex, fsm, sen_provision, looked_after, ethnic_group, first_language, imd_quintile, ward_code, ward_name, CASE WHEN elg_number = '2' THEN 1 ELSE 0 END AS numerator, 1 AS denominator FROM eyfsp_outcomes
