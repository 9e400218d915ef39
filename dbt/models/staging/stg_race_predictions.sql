with source as (

    select * from {{ source('lake', 'race_predictions') }}

)

-- The hive column `date` repeats calendar_date, so it is dropped here.
select account, * exclude (account, "date")
from source
