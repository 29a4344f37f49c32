-- England and region: take-up of the funded place by 2-year-olds (January census).
SELECT period, area_type, area_code, area_name, breakdown, breakdown_value, numerator, denominator, symbol
FROM benchmark_provision_rows
WHERE age = '2-year-olds'
