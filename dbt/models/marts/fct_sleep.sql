{{
    config(
        materialized='incremental',
        incremental_strategy='lookback_window',
        unique_key=['account', 'calendar_date'],
        on_schema_change='fail',
        meta={'lookback_column': 'calendar_date'},
    )
}}

-- One row per account and night, dated by the wake-up day (Garmin's rule): times, stage
-- durations, scores, and what the watch measured in between (SpO2, breathing, HRV), plus
-- how the night broke into stage intervals.

{%- set windows = lookback_windows('calendar_date') %}

with sleep as (

    select * from {{ ref('stg_sleep') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}

),

stages as (

    select
        account,
        calendar_date,
        count(*) as stage_intervals,
        count(*) filter (where stage = 'deep') as deep_intervals,
        count(*) filter (where stage = 'light') as light_intervals,
        count(*) filter (where stage = 'rem') as rem_intervals,
        count(*) filter (where stage = 'awake') as awake_intervals,
        max(epoch(stage_end) - epoch(stage_start)) filter (where stage <> 'awake')
            as longest_sleep_interval_s
    from {{ ref('stg_sleep_stages') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}
    group by account, calendar_date

),

hrv as (

    select * from {{ ref('stg_hrv') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}

),

-- The watch's readings between falling asleep and waking up: each reading finds the last
-- night that started before it (an ASOF join, linear in the readings) and counts if that
-- night had not ended yet. A night starts the evening before the day it is dated by, so an
-- incremental run reads the readings from two days before its window on.
spo2 as (

    select
        sleep.account,
        sleep.calendar_date,
        count(*) as spo2_readings,
        round(avg(readings.spo2_pct), 1) as mean_spo2_reading_pct,
        min(readings.spo2_pct) as min_spo2_reading_pct
    from (
        select * from {{ ref('stg_spo2') }}
        where {{ in_lookback_window(windows, 'calendar_date', pad_days=2) }}
    ) as readings
    asof inner join sleep
        on readings.account = sleep.account
        and readings."timestamp" >= sleep.sleep_start
    where readings."timestamp" <= sleep.sleep_end
    group by sleep.account, sleep.calendar_date

),

respiration as (

    select
        sleep.account,
        sleep.calendar_date,
        count(*) as respiration_readings,
        round(avg(readings.respiration_rate_brpm), 1) as mean_respiration_reading_brpm
    from (
        select * from {{ ref('stg_respiration') }}
        where {{ in_lookback_window(windows, 'calendar_date', pad_days=2) }}
    ) as readings
    asof inner join sleep
        on readings.account = sleep.account
        and readings."timestamp" >= sleep.sleep_start
    where readings."timestamp" <= sleep.sleep_end
    group by sleep.account, sleep.calendar_date

),

hrv_readings as (

    select
        sleep.account,
        sleep.calendar_date,
        count(*) as hrv_readings,
        round(avg(readings.rmssd_ms), 1) as mean_hrv_reading_ms
    from (
        select * from {{ ref('stg_hrv_readings') }}
        where {{ in_lookback_window(windows, 'calendar_date', pad_days=2) }}
    ) as readings
    asof inner join sleep
        on readings.account = sleep.account
        and readings."timestamp" >= sleep.sleep_start
    where readings."timestamp" <= sleep.sleep_end
    group by sleep.account, sleep.calendar_date

)

select
    sleep.account,
    sleep.calendar_date,
    sleep.sleep_start,
    sleep.sleep_end,
    sleep.sleep_start_local,
    sleep.sleep_end_local,
    cast(epoch(sleep.sleep_end) - epoch(sleep.sleep_start) as bigint) as time_in_bed_s,
    sleep.sleep_s,
    sleep.deep_sleep_s,
    sleep.light_sleep_s,
    sleep.rem_sleep_s,
    sleep.awake_s,
    round(
        100.0 * sleep.sleep_s / nullif(epoch(sleep.sleep_end) - epoch(sleep.sleep_start), 0), 1
    ) as sleep_efficiency_pct,
    sleep.deep_sleep_pct,
    sleep.light_sleep_pct,
    sleep.rem_sleep_pct,
    sleep.sleep_score,
    sleep.sleep_score_quality,
    sleep.duration_quality,
    sleep.stress_quality,
    sleep.awake_count_quality,
    sleep.restlessness_quality,
    sleep.deep_sleep_quality,
    sleep.light_sleep_quality,
    sleep.rem_sleep_quality,
    sleep.awake_count,
    sleep.restless_moments,
    sleep.average_sleep_stress,
    sleep.resting_heart_rate_bpm,
    sleep.body_battery_change,
    sleep.average_spo2_pct,
    sleep.lowest_spo2_pct,
    spo2.spo2_readings,
    spo2.mean_spo2_reading_pct,
    spo2.min_spo2_reading_pct,
    sleep.average_respiration_brpm,
    sleep.lowest_respiration_brpm,
    sleep.highest_respiration_brpm,
    respiration.respiration_readings,
    respiration.mean_respiration_reading_brpm,
    sleep.average_overnight_hrv_ms,
    hrv.status as hrv_status,
    hrv_readings.hrv_readings,
    hrv_readings.mean_hrv_reading_ms,
    coalesce(stages.stage_intervals, 0) as stage_intervals,
    coalesce(stages.deep_intervals, 0) as deep_intervals,
    coalesce(stages.light_intervals, 0) as light_intervals,
    coalesce(stages.rem_intervals, 0) as rem_intervals,
    coalesce(stages.awake_intervals, 0) as awake_intervals,
    stages.longest_sleep_interval_s
from sleep
left join stages using (account, calendar_date)
left join hrv using (account, calendar_date)
left join spo2 using (account, calendar_date)
left join respiration using (account, calendar_date)
left join hrv_readings using (account, calendar_date)
