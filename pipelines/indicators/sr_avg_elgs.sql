-- Average number of ELGs at the expected level (0–17).
SELECT period, sex, fsm, sen_provision, looked_after, ethnic_group, first_language, imd_quintile, ward_code, ward_name, elgs_expected AS numerator, elgs_expected * elgs_expected AS numerator_sq, 1 AS denominator
FROM eyfsp_outcomes
