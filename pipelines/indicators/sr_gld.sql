-- % of children achieving a good level of development at the end of Reception.
SELECT period, sex, fsm, sen_provision, looked_after, ethnic_group, first_language, imd_quintile, ward_code, ward_name, gld AS numerator, 1 AS denominator FROM eyfsp_outcomes
