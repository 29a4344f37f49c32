-- One row per child assessed at the end of Reception, with the outcomes the
-- school-readiness indicators count. GLD: expected (2) in all 12 ELGs of the
-- prime areas plus literacy and mathematics.
SELECT
  period, upn_key, nhs_key, match_key,
  sex, fsm, sen_provision, looked_after, ethnic_group, first_language, imd_quintile, ward_code, ward_name,
  CASE WHEN elg_listening_attention_understanding = '2' AND elg_speaking = '2' AND elg_self_regulation = '2'
        AND elg_managing_self = '2' AND elg_building_relationships = '2' AND elg_gross_motor = '2'
        AND elg_fine_motor = '2' AND elg_comprehension = '2' AND elg_word_reading = '2'
        AND elg_writing = '2' AND elg_number = '2' AND elg_numerical_patterns = '2'
       THEN 1 ELSE 0 END AS gld,
  CASE WHEN elg_listening_attention_understanding = '2' AND elg_speaking = '2'
        AND elg_comprehension = '2' AND elg_word_reading = '2' AND elg_writing = '2'
       THEN 1 ELSE 0 END AS comm_lang_lit,
  (CASE WHEN elg_listening_attention_understanding = '2' THEN 1 ELSE 0 END
   + CASE WHEN elg_speaking = '2' THEN 1 ELSE 0 END
   + CASE WHEN elg_self_regulation = '2' THEN 1 ELSE 0 END
   + CASE WHEN elg_managing_self = '2' THEN 1 ELSE 0 END
   + CASE WHEN elg_building_relationships = '2' THEN 1 ELSE 0 END
   + CASE WHEN elg_gross_motor = '2' THEN 1 ELSE 0 END
   + CASE WHEN elg_fine_motor = '2' THEN 1 ELSE 0 END
   + CASE WHEN elg_comprehension = '2' THEN 1 ELSE 0 END
   + CASE WHEN elg_word_reading = '2' THEN 1 ELSE 0 END
   + CASE WHEN elg_writing = '2' THEN 1 ELSE 0 END
   + CASE WHEN elg_number = '2' THEN 1 ELSE 0 END
   + CASE WHEN elg_numerical_patterns = '2' THEN 1 ELSE 0 END
   + CASE WHEN elg_past_and_present = '2' THEN 1 ELSE 0 END
   + CASE WHEN elg_people_culture_communities = '2' THEN 1 ELSE 0 END
   + CASE WHEN elg_natural_world = '2' THEN 1 ELSE 0 END
   + CASE WHEN elg_creating_with_materials = '2' THEN 1 ELSE 0 END
   + CASE WHEN elg_being_imaginative_expressive = '2' THEN 1 ELSE 0 END) AS elgs_expected,
  elg_listening_attention_understanding, elg_speaking, elg_self_regulation, elg_managing_self,
  elg_building_relationships, elg_gross_motor, elg_fine_motor, elg_comprehension, elg_word_reading,
  elg_writing, elg_number, elg_numerical_patterns, elg_past_and_present, elg_people_culture_communities,
  elg_natural_world, elg_creating_with_materials, elg_being_imaginative_expressive
FROM eyfsp
