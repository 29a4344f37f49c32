-- England and region: take-up of the funded place by 3 and 4-year-olds (January census).
SELECT period, area_type, area_code, area_name, breakdown, breakdown_value, numerator, denominator, symbol
FROM benchmark_provision_rows
WHERE age = '3 and 4-year-olds'
