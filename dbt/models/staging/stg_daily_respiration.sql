with source as (

    select * from {{ lake_source('daily_respiration') }}

)

-- The hive column `date` repeats calendar_date, so it is dropped here.
select account, * exclude (account, "date")
from source
