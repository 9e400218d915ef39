{{
    config(
        materialized='incremental',
        incremental_strategy='lookback_window',
        unique_key=['account', 'calendar_date'],
        on_schema_change='fail',
        meta={'lookback_column': 'calendar_date'},
    )
}}

-- One row per account and night with HRV, dated by the wake-up day: Garmin's nightly summary
-- (status, baseline) beside the watch's own 5-minute RMSSD readings of that night.

{%- set windows = lookback_windows('calendar_date') %}

with nightly as (

    select * from {{ ref('stg_hrv') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}

),

readings as (

    select
        account,
        calendar_date,
        count(*) as readings_count,
        round(avg(rmssd_ms), 1) as readings_mean_ms,
        min(rmssd_ms) as readings_min_ms,
        max(rmssd_ms) as readings_max_ms,
        min("timestamp") as first_reading_at,
        max("timestamp") as last_reading_at
    from {{ ref('stg_hrv_readings') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}
    group by account, calendar_date

)

select
    account,
    calendar_date,
    nightly.last_night_avg_ms,
    nightly.last_night_5min_high_ms,
    nightly.weekly_avg_ms,
    nightly.baseline_low_upper_ms,
    nightly.baseline_balanced_low_ms,
    nightly.baseline_balanced_upper_ms,
    nightly.status,
    coalesce(readings.readings_count, 0) as readings_count,
    readings.readings_mean_ms,
    readings.readings_min_ms,
    readings.readings_max_ms,
    readings.first_reading_at,
    readings.last_reading_at
from nightly
full outer join readings using (account, calendar_date)
