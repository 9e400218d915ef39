-- Generated from garmin_pipeline/catalog.py by `make dbt-staging`; do not edit.
with source as (

    select * from {{ lake_source('body_battery_events') }}

)

-- calendar_date is read from the hive column `date` (the lake files each row under its
-- calendar date), so a filter on it skips whole partitions instead of opening every file.
select account, "date" as calendar_date, * exclude (account, "date", calendar_date)
from source
