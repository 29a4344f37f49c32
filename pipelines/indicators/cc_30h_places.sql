-- Extended (30-hour) places taken up in the term: a count of children, by
-- provider type and ward.
-- The term is CAST to VARCHAR in the DISTINCT: the lake gives partition columns as
-- dictionaries, which DataFusion groups row by row (a third slower, half as much
-- memory again, with 3 million children a term).
SELECT period, provider_type, imd_quintile, ward_code, ward_name, 1 AS numerator, 1 AS denominator
FROM (SELECT DISTINCT CAST(period AS VARCHAR) AS period, key128(match_key) AS child, provider_type, imd_quintile, ward_code, ward_name
      FROM ey_headcount WHERE funding_type = 'extended_30') h
