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
-- The three kinds are stacked, each in its own column and type, and joined to the nights once.
readings as (

    select account, "timestamp", 'spo2' as reading, spo2_pct
    from {{ ref('stg_spo2') }}
    where {{ in_lookback_window(windows, 'calendar_date', pad_days=2) }}

    union all by name

    select account, "timestamp", 'respiration' as reading, respiration_rate_brpm
    from {{ ref('stg_respiration') }}
    where {{ in_lookback_window(windows, 'calendar_date', pad_days=2) }}

    union all by name

    select account, "timestamp", 'hrv' as reading, rmssd_ms
    from {{ ref('stg_hrv_readings') }}
    where {{ in_lookback_window(windows, 'calendar_date', pad_days=2) }}

),

-- A kind the night has no readings of counts null, not 0 (as for a night without any
-- readings); the averages and the minimum skip the other kinds' rows, null in their column.
night_readings as (

    select
        sleep.account,
        sleep.calendar_date,
        nullif(count(*) filter (where readings.reading = 'spo2'), 0) as spo2_readings,
        round(avg(readings.spo2_pct), 1) as mean_spo2_reading_pct,
        min(readings.spo2_pct) as min_spo2_reading_pct,
        nullif(count(*) filter (where readings.reading = 'respiration'), 0)
            as respiration_readings,
        round(avg(readings.respiration_rate_brpm), 1) as mean_respiration_reading_brpm,
        nullif(count(*) filter (where readings.reading = 'hrv'), 0) as hrv_readings,
        round(avg(readings.rmssd_ms), 1) as mean_hrv_reading_ms
    from readings
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
    night_readings.spo2_readings,
    night_readings.mean_spo2_reading_pct,
    night_readings.min_spo2_reading_pct,
    sleep.average_respiration_brpm,
    sleep.lowest_respiration_brpm,
    sleep.highest_respiration_brpm,
    night_readings.respiration_readings,
    night_readings.mean_respiration_reading_brpm,
    sleep.average_overnight_hrv_ms,
    hrv.status as hrv_status,
    night_readings.hrv_readings,
    night_readings.mean_hrv_reading_ms,
    coalesce(stages.stage_intervals, 0) as stage_intervals,
    coalesce(stages.deep_intervals, 0) as deep_intervals,
    coalesce(stages.light_intervals, 0) as light_intervals,
    coalesce(stages.rem_intervals, 0) as rem_intervals,
    coalesce(stages.awake_intervals, 0) as awake_intervals,
    stages.longest_sleep_interval_s
from sleep
left join stages using (account, calendar_date)
left join hrv using (account, calendar_date)
left join night_readings using (account, calendar_date)
