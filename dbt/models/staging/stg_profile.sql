-- Generated from garmin_pipeline/catalog.py by `make dbt-staging`; do not edit.
with source as (

    select * from {{ lake_source('profile') }}

)

-- A snapshot is kept on the last day of the sync that read it; the hive column `date`
-- repeats snapshot_date, so it is dropped here.
select account, * exclude (account, "date")
from source
