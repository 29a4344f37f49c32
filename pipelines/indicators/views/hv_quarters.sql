-- The financial-year quarters for which health-visiting extracts were delivered.
SELECT DISTINCT period FROM hv_contacts
