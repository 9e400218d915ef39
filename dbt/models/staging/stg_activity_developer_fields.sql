-- Long table of FIT field values no wide column holds.
with source as (

    select * from {{ lake_source('activity_developer_fields') }}

)

-- The hive column `date` is the activity's local start date.
select account, "date" as activity_date, * exclude (account, "date")
from source
