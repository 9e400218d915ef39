{{
    config(
        materialized='incremental',
        incremental_strategy='lookback_window',
        unique_key=['account', 'activity_id', 'lap_index'],
        on_schema_change='fail',
        meta={'lookback_column': 'activity_date'},
    )
}}

-- One row per lap (FIT lap message), with its activity's name, type and date: times,
-- distance, speed and pace, heart rate, power, climbing.

{%- set windows = lookback_windows('activity_date') %}

with laps as (

    select * from {{ ref('stg_activity_laps') }}
    where {{ in_lookback_window(windows, 'activity_date') }}

),

activities as (

    select * from {{ ref('stg_activities') }}
    where {{ in_lookback_window(windows, 'activity_date') }}

)

select
    laps.account,
    laps.activity_id,
    laps.lap_index,
    cast(laps.lap_index + 1 as integer) as lap_number,
    laps.activity_date,
    activities.activity_name,
    activities.activity_type,
    laps.sport,
    laps.sub_sport,
    laps.start_time,
    laps.end_time,
    laps.total_elapsed_time_s,
    laps.total_timer_time_s,
    laps.total_distance_m,
    laps.avg_speed_m_s,
    laps.max_speed_m_s,
    -- Pace over the timer time; null for laps that cover no distance (e.g. pool rests).
    round(laps.total_timer_time_s / nullif(laps.total_distance_m, 0) * 1000, 1) as pace_s_per_km,
    laps.avg_heart_rate_bpm,
    laps.max_heart_rate_bpm,
    laps.avg_cadence_rpm,
    laps.avg_power_w,
    laps.max_power_w,
    laps.normalized_power_w,
    laps.total_ascent_m,
    laps.total_descent_m,
    laps.total_calories_kcal,
    laps.intensity,
    laps.lap_trigger,
    laps.swim_stroke,
    laps.num_active_lengths
from laps
left join activities using (account, activity_id)
