-- % of children at the expected level in all communication-and-language and literacy ELGs.
SELECT period, sex, fsm, sen_provision, looked_after, ethnic_group, first_language, imd_quintile, ward_code, ward_name, comm_lang_lit AS numerator, 1 AS denominator FROM eyfsp_outcomes
