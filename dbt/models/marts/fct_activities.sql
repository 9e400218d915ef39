-- One row per activity: the list's name and totals, with what its FIT file adds
-- (sports, sessions, laps, samples, power).

with activities as (

    select * from {{ ref('stg_activities') }}

),

sessions as (

    select
        activity_id,
        string_agg(distinct sport, '+' order by sport) as fit_sports,
        count(*) as session_count,
        sum(total_timer_time_s) as fit_timer_time_s,
        sum(total_distance_m) as fit_distance_m,
        max(avg_power_w) as avg_power_w,
        max(normalized_power_w) as normalized_power_w
    from {{ ref('stg_activity_sessions') }}
    group by activity_id

),

laps as (

    select activity_id, count(*) as lap_count
    from {{ ref('stg_activity_laps') }}
    group by activity_id

),

records as (

    select
        activity_id,
        count(*) as record_count,
        count(latitude_deg) > 0 as has_gps
    from {{ ref('stg_activity_records') }}
    group by activity_id

)

select
    activities.account,
    activities.activity_id,
    activities.activity_date,
    activities.activity_name,
    activities.activity_type,
    activities.start_time,
    activities.start_time_local,
    activities.duration_s,
    activities.distance_m,
    activities.calories_kcal,
    activities.average_heart_rate_bpm,
    activities.max_heart_rate_bpm,
    activities.average_speed_m_s,
    activities.elevation_gain_m,
    sessions.fit_sports,
    sessions.session_count,
    sessions.fit_timer_time_s,
    sessions.fit_distance_m,
    sessions.avg_power_w,
    sessions.normalized_power_w,
    coalesce(laps.lap_count, 0) as lap_count,
    coalesce(records.record_count, 0) as record_count,
    coalesce(records.has_gps, false) as has_gps,
    sessions.activity_id is not null as fit_decoded
from activities
left join sessions using (activity_id)
left join laps using (activity_id)
left join records using (activity_id)
