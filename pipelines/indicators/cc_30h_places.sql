-- Extended (30-hour) places taken up in the term: a count of children, by
-- provider type and ward (views/cc_30h_counts.sql counts them, in parts of the
-- children; the engine adds the parts' counts up).
SELECT period, provider_type, imd_quintile, ward_code, ward_name, children AS numerator, children AS denominator
FROM cc_30h_counts
