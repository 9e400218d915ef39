{{
    config(
        materialized='incremental',
        incremental_strategy='lookback_window',
        unique_key=['account', 'activity_id', 'effort_distance_m'],
        on_schema_change='fail',
        meta={'lookback_column': 'activity_date'},
    )
}}

-- One row per activity and standard distance it covers (1 km, 5 km, 10 km): its fastest
-- stretch of that length, from the records' cumulative distance and time. Computed once per
-- activity (incrementally, see macros/lookback_window.sql), so "best 5 km" is a small query.

{%- set windows = lookback_windows('activity_date') %}

with samples as (

    select
        account,
        activity_id,
        activity_date,
        coalesce(epoch("timestamp"), system_time_s) as seconds,
        distance_m,
        lag(coalesce(epoch("timestamp"), system_time_s)) over samples as previous_seconds,
        lag(distance_m) over samples as previous_distance_m,
        lead(distance_m) over samples as next_distance_m,
        first_value(coalesce(epoch("timestamp"), system_time_s)) over samples as first_seconds
    from {{ ref('stg_activity_records') }}
    where distance_m is not null
        and coalesce(epoch("timestamp"), system_time_s) is not null
        and {{ in_lookback_window(windows, 'activity_date') }}
    window samples as (partition by account, activity_id order by record_index)

),

distances as (

    select unnest([1000, 5000, 10000]) as effort_distance_m

),

-- A stretch starts at the last sample at its distance (standing still before it does not
-- count) ...
starts as (

    select samples.*, distances.effort_distance_m, samples.distance_m + distances.effort_distance_m
        as target_m
    from samples
    cross join distances
    where samples.next_distance_m is null or samples.next_distance_m > samples.distance_m

),

-- ... and finishes when the distance is first reached: at the first sample at least that far
-- (an ASOF join over the samples that advance the distance; the profile turns off its
-- nested-loop plan, which years of records would make quadratic), the finish time
-- interpolated between it and the sample before.
finishes as (

    select * from samples
    where samples.previous_distance_m < samples.distance_m

),

efforts as (

    select
        starts.account,
        starts.activity_id,
        starts.activity_date,
        starts.effort_distance_m,
        starts.seconds - starts.first_seconds as start_offset_s,
        starts.distance_m as start_offset_m,
        finishes.previous_seconds
            + (finishes.seconds - finishes.previous_seconds)
            * (starts.target_m - finishes.previous_distance_m)
            / (finishes.distance_m - finishes.previous_distance_m)
            - starts.seconds as effort_s
    from starts
    asof inner join finishes
        on finishes.account = starts.account
        and finishes.activity_id = starts.activity_id
        and finishes.distance_m >= starts.target_m

),

best as (

    select
        account,
        activity_id,
        activity_date,
        effort_distance_m,
        min(effort_s) as effort_s,
        arg_min(start_offset_s, (effort_s, start_offset_s)) as start_offset_s,
        arg_min(start_offset_m, (effort_s, start_offset_s)) as start_offset_m
    from efforts
    where effort_s > 0
    group by account, activity_id, activity_date, effort_distance_m

),

activities as (

    select account, activity_id, activity_type
    from {{ ref('stg_activities') }}
    where {{ in_lookback_window(windows, 'activity_date') }}

)

select
    best.account,
    best.activity_id,
    best.activity_date,
    activities.activity_type,
    best.effort_distance_m,
    round(best.effort_s, 1) as effort_s,
    round(best.effort_s / best.effort_distance_m * 1000, 1) as pace_s_per_km,
    round(best.start_offset_s, 1) as start_offset_s,
    round(best.start_offset_m, 1) as start_offset_m
from best
left join activities using (account, activity_id)
