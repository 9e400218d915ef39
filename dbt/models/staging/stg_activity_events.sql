-- Generated from garmin_pipeline/catalog.py by `make dbt-staging`; do not edit.
with source as (

    select * from {{ lake_source('activity_events') }}

)

-- The hive column `date` is the activity's local start date.
select account, "date" as activity_date, * exclude (account, "date")
from source
