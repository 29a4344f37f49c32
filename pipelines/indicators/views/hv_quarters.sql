-- The financial-year quarters for which health-visiting extracts were delivered.
-- As text, like fy_quarter's: hv_reached compares each child's quarter with these,
-- and the lake's partition column (a dictionary) would have every one of those
-- quarters cast to a dictionary first (0.3 s at national size).
SELECT DISTINCT CAST(period AS VARCHAR) AS period FROM hv_contacts
