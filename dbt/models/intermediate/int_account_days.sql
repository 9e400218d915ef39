{{
    config(
        materialized='incremental',
        incremental_strategy='lookback_window',
        unique_key=['account', 'calendar_date'],
        on_schema_change='fail',
        meta={'lookback_column': 'calendar_date'},
    )
}}

-- One row per account and day that any dataset holds: whether the day counts for the
-- account's span of days, its highest heart rate and its resting heart rates. dim_account
-- aggregates these few thousand rows instead of scanning years of lake files on every run.

{%- set windows = lookback_windows('calendar_date') %}

with daily_summary as (

    select account, calendar_date, max_heart_rate_bpm, resting_heart_rate_bpm
    from {{ ref('stg_daily_summary') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}

),

resting_hr as (

    select account, calendar_date, resting_heart_rate_bpm
    from {{ ref('stg_resting_heart_rate') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}

),

activities as (

    select account, activity_date as calendar_date, max_heart_rate_bpm
    from {{ ref('stg_activities') }}
    where {{ in_lookback_window(windows, 'activity_date') }}

),

-- The datasets whose days bound an account's rows in the daily marts.
covered as (

    select account, calendar_date from daily_summary
    union
    select account, calendar_date from {{ ref('stg_daily_steps') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}
    union
    select account, calendar_date from {{ ref('stg_sleep') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}
    union
    select account, calendar_date from {{ ref('stg_heart_rate') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}
    union
    select account, calendar_date from {{ ref('stg_hrv') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}
    union
    select account, calendar_date from resting_hr
    union
    select account, calendar_date from {{ ref('stg_weigh_ins') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}
    union
    select account, calendar_date from {{ ref('stg_training_status') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}
    union
    select account, calendar_date from activities

),

-- Heart rates seen that day: in an activity (list or FIT session) or over the whole day.
max_hr as (

    select account, calendar_date, max_heart_rate_bpm from activities
    union all
    select account, activity_date, max_heart_rate_bpm
    from {{ ref('stg_activity_sessions') }}
    where {{ in_lookback_window(windows, 'activity_date') }}
    union all
    select account, calendar_date, max_heart_rate_bpm from daily_summary

),

days as (

    select account, calendar_date from covered
    union
    select account, calendar_date from max_hr

),

day_max_hr as (

    select account, calendar_date, max(max_heart_rate_bpm) as max_heart_rate_bpm
    from max_hr
    group by account, calendar_date

)

select
    days.account,
    days.calendar_date,
    covered.calendar_date is not null as is_covered,
    day_max_hr.max_heart_rate_bpm,
    resting_hr.resting_heart_rate_bpm,
    daily_summary.resting_heart_rate_bpm as summary_resting_heart_rate_bpm
from days
left join covered using (account, calendar_date)
left join day_max_hr using (account, calendar_date)
left join resting_hr using (account, calendar_date)
left join daily_summary using (account, calendar_date)
