with source as (

    select * from {{ lake_source('monitoring') }}

)

-- The hive column `date` repeats calendar_date, so it is dropped here.
select account, * exclude (account, "date")
from source
