{{
    config(
        materialized='incremental',
        incremental_strategy='lookback_window',
        unique_key=['account', 'activity_id'],
        on_schema_change='fail',
        meta={'lookback_column': 'activity_date'},
    )
}}

-- One row per activity: the list's name and totals, with what its FIT file adds (sports,
-- sessions, laps, samples, power, training effect), and its heart-rate load: Banister TRIMP
-- and time in heart-rate zones (see fct_activities.yml for the formula and the zones).
-- Incremental: each run rebuilds the activities of the last `lookback_days` days per account
-- (macros/lookback_window.sql), and every older activity whose heart-rate anchors in
-- dim_account have moved since it was built (a new highest heart rate, a new typical resting
-- heart rate), so TRIMP and zones stay what a full build gives.

{%- set windows = lookback_windows('activity_date') %}
{%- set stale_days = {} %}
{%- if execute and is_incremental() %}
    {%- set stale_anchors %}
        select distinct existing.account, existing.activity_date
        from {{ this }} as existing
        inner join {{ ref('dim_account') }} as accounts using (account)
        where existing.trimp_max_heart_rate_bpm is distinct from accounts.max_heart_rate_bpm
            or existing.trimp_resting_heart_rate_source = 'typical'
            and existing.trimp_resting_heart_rate_bpm
                is distinct from accounts.typical_resting_heart_rate_bpm
        order by 1, 2
    {%- endset %}
    {%- set stale_days = days_by_account(run_query(stale_anchors)) %}
{%- endif %}

with activities as (

    select * from {{ ref('stg_activities') }}
    where {{ in_lookback_window(windows, 'activity_date', extra_days=stale_days) }}

),

accounts as (

    select * from {{ ref('dim_account') }}

),

sessions as (

    select
        account,
        activity_id,
        string_agg(distinct sport, '+' order by sport) as fit_sports,
        count(*) as session_count,
        sum(total_timer_time_s) as fit_timer_time_s,
        sum(total_distance_m) as fit_distance_m,
        max(avg_power_w) as avg_power_w,
        max(normalized_power_w) as normalized_power_w,
        max(total_training_effect) as aerobic_training_effect,
        max(total_anaerobic_training_effect) as anaerobic_training_effect,
        sum(training_load_peak) as garmin_training_load,
        sum(training_stress_score) as training_stress_score,
        max(intensity_factor) as intensity_factor,
        -- Timer-weighted, so a multisport file's legs count by their length.
        sum(avg_heart_rate_bpm * total_timer_time_s) / nullif(
            sum(case when avg_heart_rate_bpm is not null then total_timer_time_s end), 0
        ) as fit_average_heart_rate_bpm
    from {{ ref('stg_activity_sessions') }}
    where {{ in_lookback_window(windows, 'activity_date', extra_days=stale_days) }}
    group by account, activity_id

),

laps as (

    select account, activity_id, count(*) as lap_count
    from {{ ref('stg_activity_laps') }}
    where {{ in_lookback_window(windows, 'activity_date', extra_days=stale_days) }}
    group by account, activity_id

),

samples as (

    select
        account,
        activity_id,
        record_index,
        latitude_deg,
        heart_rate_bpm,
        coalesce(epoch("timestamp"), system_time_s) as seconds
    from {{ ref('stg_activity_records') }}
    where {{ in_lookback_window(windows, 'activity_date', extra_days=stale_days) }}

),

records as (

    select
        account,
        activity_id,
        count(*) as record_count,
        count(latitude_deg) > 0 as has_gps
    from samples
    group by account, activity_id

),

-- The resting heart rate of the activity's day, else the account's typical one.
day_resting_hr as (

    select
        account,
        calendar_date,
        coalesce(resting_hr.resting_heart_rate_bpm, summary.resting_heart_rate_bpm)
            as resting_heart_rate_bpm
    from (
        select * from {{ ref('stg_resting_heart_rate') }}
        where {{ in_lookback_window(windows, 'calendar_date', extra_days=stale_days) }}
    ) as resting_hr
    full outer join (
        select * from {{ ref('stg_daily_summary') }}
        where {{ in_lookback_window(windows, 'calendar_date', extra_days=stale_days) }}
    ) as summary using (account, calendar_date)

),

anchors as (

    select
        activities.account,
        activities.activity_id,
        accounts.max_heart_rate_bpm,
        coalesce(
            day_resting_hr.resting_heart_rate_bpm, accounts.typical_resting_heart_rate_bpm
        ) as resting_heart_rate_bpm,
        case when day_resting_hr.resting_heart_rate_bpm is not null then 'day' else 'typical' end
            as resting_heart_rate_source
    from activities
    inner join accounts using (account)
    left join day_resting_hr
        on day_resting_hr.account = activities.account
        and day_resting_hr.calendar_date = activities.activity_date

),

-- Each heart-rate sample stands for the time to the next one, at most 10 s: a longer gap is a
-- pause (the last sample takes the gap before it).
hr_samples as (

    select
        account,
        activity_id,
        heart_rate_bpm,
        greatest(least(coalesce(
            lead(seconds) over by_record - seconds,
            seconds - lag(seconds) over by_record
        ), 10), 0) as sample_s
    from samples
    where heart_rate_bpm is not null
    window by_record as (partition by account, activity_id order by record_index)

),

hr_load as (

    select
        hr_samples.account,
        hr_samples.activity_id,
        sum(
            sample_s / 60.0 * hrr * 0.64 * exp(1.92 * hrr)
        ) as trimp,
        sum(case when heart_rate_bpm >= 0.5 * max_heart_rate_bpm
            and heart_rate_bpm < 0.6 * max_heart_rate_bpm then sample_s else 0 end) as hr_zone_1_s,
        sum(case when heart_rate_bpm >= 0.6 * max_heart_rate_bpm
            and heart_rate_bpm < 0.7 * max_heart_rate_bpm then sample_s else 0 end) as hr_zone_2_s,
        sum(case when heart_rate_bpm >= 0.7 * max_heart_rate_bpm
            and heart_rate_bpm < 0.8 * max_heart_rate_bpm then sample_s else 0 end) as hr_zone_3_s,
        sum(case when heart_rate_bpm >= 0.8 * max_heart_rate_bpm
            and heart_rate_bpm < 0.9 * max_heart_rate_bpm then sample_s else 0 end) as hr_zone_4_s,
        sum(case when heart_rate_bpm >= 0.9 * max_heart_rate_bpm
            then sample_s else 0 end) as hr_zone_5_s
    from (
        select
            hr_samples.*,
            anchors.max_heart_rate_bpm,
            greatest(least(
                (heart_rate_bpm - anchors.resting_heart_rate_bpm)
                / nullif(anchors.max_heart_rate_bpm - anchors.resting_heart_rate_bpm, 0),
                1.0
            ), 0.0) as hrr
        from hr_samples
        inner join anchors using (account, activity_id)
    ) as hr_samples
    group by hr_samples.account, hr_samples.activity_id

),

joined as (

    select
        activities.account,
        activities.activity_id,
        activities.activity_date,
        activities.activity_name,
        activities.activity_type,
        activities.start_time,
        activities.start_time_local,
        activities.duration_s,
        activities.elapsed_duration_s,
        activities.moving_duration_s,
        activities.distance_m,
        activities.calories_kcal,
        activities.average_heart_rate_bpm,
        activities.max_heart_rate_bpm,
        activities.average_speed_m_s,
        activities.max_speed_m_s,
        activities.elevation_gain_m,
        activities.elevation_loss_m,
        sessions.fit_sports,
        sessions.session_count,
        sessions.fit_timer_time_s,
        sessions.fit_distance_m,
        sessions.avg_power_w,
        sessions.normalized_power_w,
        sessions.aerobic_training_effect,
        sessions.anaerobic_training_effect,
        sessions.garmin_training_load,
        sessions.training_stress_score,
        sessions.intensity_factor,
        coalesce(laps.lap_count, 0) as lap_count,
        coalesce(records.record_count, 0) as record_count,
        coalesce(records.has_gps, false) as has_gps,
        sessions.activity_id is not null as fit_decoded,
        anchors.resting_heart_rate_bpm as trimp_resting_heart_rate_bpm,
        anchors.resting_heart_rate_source as trimp_resting_heart_rate_source,
        anchors.max_heart_rate_bpm as trimp_max_heart_rate_bpm,
        -- Without heart-rate samples: the mean heart rate held for the whole timer duration.
        coalesce(
            activities.average_heart_rate_bpm, sessions.fit_average_heart_rate_bpm
        ) as average_hr,
        greatest(least(
            (average_hr - anchors.resting_heart_rate_bpm)
            / nullif(anchors.max_heart_rate_bpm - anchors.resting_heart_rate_bpm, 0),
            1.0
        ), 0.0) as average_hrr,
        hr_load.trimp as records_trimp,
        coalesce(activities.duration_s, sessions.fit_timer_time_s) / 60.0
            * average_hrr * 0.64 * exp(1.92 * average_hrr) as average_hr_trimp,
        hr_load.hr_zone_1_s,
        hr_load.hr_zone_2_s,
        hr_load.hr_zone_3_s,
        hr_load.hr_zone_4_s,
        hr_load.hr_zone_5_s
    from activities
    left join sessions using (account, activity_id)
    left join laps using (account, activity_id)
    left join records using (account, activity_id)
    left join anchors using (account, activity_id)
    left join hr_load using (account, activity_id)

)

select
    * exclude (average_hr, average_hrr, records_trimp, average_hr_trimp),
    round(coalesce(records_trimp, average_hr_trimp), 2) as trimp,
    case
        when records_trimp is not null then 'records'
        when average_hr_trimp is not null then 'average_heart_rate'
    end as trimp_method
from joined
