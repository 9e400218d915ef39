{{ config(materialized='view') }}

-- The activities' time series, read straight from the lake's Parquet: a view, not a copy,
-- so years of per-second samples cost the warehouse nothing.

select
    records.account,
    records.activity_id,
    activities.activity_type,
    records.activity_date,
    records.record_index,
    records."timestamp",
    records.activity_type as sample_activity_type,
    records.* exclude (account, activity_id, activity_date, record_index, "timestamp", activity_type)
from {{ ref('stg_activity_records') }} as records
left join {{ ref('stg_activities') }} as activities using (account, activity_id)
