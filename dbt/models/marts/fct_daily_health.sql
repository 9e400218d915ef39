{{
    config(
        materialized='incremental',
        incremental_strategy='lookback_window',
        unique_key=['account', 'calendar_date'],
        on_schema_change='fail',
        meta={'lookback_column': 'calendar_date'},
    )
}}

-- One wide row per account and day across every daily domain. The rows come from the date
-- spine (dim_date × each account's first to last day), so a day Garmin has nothing for is a
-- row of nulls, not a missing row. Where a day has both a dedicated dataset and the daily
-- summary, the dedicated dataset wins (it is the one refreshed by its own range endpoint).
-- Incremental: each run rebuilds the last `lookback_days` days per account (see
-- macros/lookback_window.sql).

{%- set windows = lookback_windows('calendar_date') %}

with spine as (

    select dim_account.account, dim_date.calendar_date
    from {{ ref('dim_account') }} as dim_account
    inner join {{ ref('dim_date') }} as dim_date
        on dim_date.calendar_date between dim_account.first_date and dim_account.last_date
    where {{ in_lookback_window(windows, 'dim_date.calendar_date', 'dim_account.account') }}

),

summary as (

    select * from {{ ref('stg_daily_summary') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}

),

steps as (

    select * from {{ ref('stg_daily_steps') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}

),

floors as (

    select * from {{ ref('stg_daily_floors') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}

),

intensity as (

    select * from {{ ref('stg_daily_intensity_minutes') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}

),

stress as (

    select * from {{ ref('stg_daily_stress') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}

),

respiration as (

    select * from {{ ref('stg_daily_respiration') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}

),

resting_hr as (

    select * from {{ ref('stg_resting_heart_rate') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}

),

body_battery as (

    select * from {{ ref('stg_body_battery_daily') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}

),

hydration as (

    select * from {{ ref('stg_hydration') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}

),

sleep as (

    select * from {{ ref('stg_sleep') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}

),

hrv as (

    select * from {{ ref('stg_hrv') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}

),

heart_rate as (

    select
        account,
        calendar_date,
        count(*) as heart_rate_samples,
        round(avg(heart_rate_bpm), 1) as mean_heart_rate_bpm
    from {{ ref('stg_heart_rate') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}
    group by account, calendar_date

),

spo2 as (

    select account, calendar_date, round(avg(spo2_pct), 1) as mean_spo2_pct
    from {{ ref('stg_spo2') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}
    group by account, calendar_date

),

-- The day's latest weigh-in.
weight as (

    select account, calendar_date, weight_kg, body_fat_pct, bmi
    from {{ ref('stg_weigh_ins') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}
    qualify row_number() over (
        partition by account, calendar_date order by "timestamp" desc
    ) = 1

),

-- The day's last training readiness (it is recomputed after waking and after each activity).
readiness as (

    select account, calendar_date, score, level
    from {{ ref('stg_training_readiness') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}
    qualify row_number() over (
        partition by account, calendar_date order by "timestamp" desc
    ) = 1

),

training_status as (

    select * from {{ ref('stg_training_status') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}

),

max_metrics as (

    select * from {{ ref('stg_max_metrics') }}
    where {{ in_lookback_window(windows, 'calendar_date') }}

),

training as (

    select
        account,
        activity_date as calendar_date,
        count(*) as activity_count,
        sum(duration_s) as activity_duration_s,
        sum(distance_m) as activity_distance_m
    from {{ ref('stg_activities') }}
    where {{ in_lookback_window(windows, 'activity_date') }}
    group by account, activity_date

),

joined as (

    select
        spine.account,
        spine.calendar_date,
        summary.calendar_date is not null as has_daily_summary,
        coalesce(steps.total_steps, summary.total_steps) as total_steps,
        coalesce(steps.step_goal, summary.daily_step_goal) as daily_step_goal,
        coalesce(steps.total_distance_m, summary.total_distance_m) as total_distance_m,
        summary.total_kilocalories,
        summary.active_kilocalories,
        summary.bmr_kilocalories,
        coalesce(resting_hr.resting_heart_rate_bpm, summary.resting_heart_rate_bpm)
            as resting_heart_rate_bpm,
        summary.min_heart_rate_bpm,
        summary.max_heart_rate_bpm,
        heart_rate.heart_rate_samples,
        heart_rate.mean_heart_rate_bpm,
        coalesce(stress.overall_stress_level, summary.average_stress_level)
            as average_stress_level,
        summary.max_stress_level,
        stress.rest_stress_s,
        stress.low_stress_s,
        stress.medium_stress_s,
        stress.high_stress_s,
        summary.body_battery_highest,
        summary.body_battery_lowest,
        body_battery.charged as body_battery_charged,
        body_battery.drained as body_battery_drained,
        coalesce(intensity.moderate_minutes, summary.moderate_intensity_minutes)
            as moderate_intensity_minutes,
        coalesce(intensity.vigorous_minutes, summary.vigorous_intensity_minutes)
            as vigorous_intensity_minutes,
        intensity.weekly_goal_minutes as weekly_intensity_goal_minutes,
        coalesce(floors.floors_ascended, summary.floors_ascended) as floors_ascended,
        floors.floors_descended,
        summary.highly_active_s,
        summary.active_s,
        summary.sedentary_s,
        sleep.sleep_s,
        sleep.deep_sleep_s,
        sleep.light_sleep_s,
        sleep.rem_sleep_s,
        sleep.awake_s,
        sleep.sleep_score,
        hrv.last_night_avg_ms as hrv_last_night_avg_ms,
        hrv.weekly_avg_ms as hrv_weekly_avg_ms,
        hrv.status as hrv_status,
        coalesce(summary.average_spo2_pct, spo2.mean_spo2_pct) as average_spo2_pct,
        coalesce(respiration.avg_waking_respiration_brpm, summary.avg_waking_respiration_brpm)
            as avg_waking_respiration_brpm,
        respiration.avg_sleep_respiration_brpm,
        hydration.intake_ml as hydration_intake_ml,
        hydration.goal_ml as hydration_goal_ml,
        weight.weight_kg,
        weight.body_fat_pct,
        weight.bmi,
        readiness.score as training_readiness_score,
        readiness.level as training_readiness_level,
        training_status.training_status_phrase,
        training_status.acute_load as garmin_acute_load,
        training_status.chronic_load as garmin_chronic_load,
        training_status.acwr as garmin_acute_chronic_ratio,
        training_status.acwr_status as garmin_acute_chronic_status,
        max_metrics.vo2max_running_ml_kg_min as vo2max_running_update_ml_kg_min,
        max_metrics.vo2max_cycling_ml_kg_min as vo2max_cycling_update_ml_kg_min,
        coalesce(training.activity_count, 0) as activity_count,
        coalesce(training.activity_duration_s, 0) as activity_duration_s,
        coalesce(training.activity_distance_m, 0) as activity_distance_m
    from spine
    left join summary using (account, calendar_date)
    left join steps using (account, calendar_date)
    left join floors using (account, calendar_date)
    left join intensity using (account, calendar_date)
    left join stress using (account, calendar_date)
    left join respiration using (account, calendar_date)
    left join resting_hr using (account, calendar_date)
    left join body_battery using (account, calendar_date)
    left join hydration using (account, calendar_date)
    left join sleep using (account, calendar_date)
    left join hrv using (account, calendar_date)
    left join heart_rate using (account, calendar_date)
    left join spo2 using (account, calendar_date)
    left join weight using (account, calendar_date)
    left join readiness using (account, calendar_date)
    left join training_status using (account, calendar_date)
    left join max_metrics using (account, calendar_date)
    left join training using (account, calendar_date)

),

{%- if is_incremental() %}

-- The VO2max each account's last day before the window carries into it.
carried as (

    select account, vo2max_running_ml_kg_min, vo2max_cycling_ml_kg_min
    from {{ this }}
    where not {{ in_lookback_window(windows, 'calendar_date') }}
    qualify row_number() over (partition by account order by calendar_date desc) = 1

),
{%- endif %}

latest as (

    select
        * exclude (vo2max_running_update_ml_kg_min, vo2max_cycling_update_ml_kg_min),
        -- VO2max changes only after a run or a ride: each day carries the latest value so far.
        last_value(vo2max_running_update_ml_kg_min ignore nulls) over so_far
            as vo2max_running_ml_kg_min,
        last_value(vo2max_cycling_update_ml_kg_min ignore nulls) over so_far
            as vo2max_cycling_ml_kg_min
    from joined
    window so_far as (
        partition by account order by calendar_date
        rows between unbounded preceding and current row
    )

)

{% if is_incremental() -%}
select
    latest.* replace (
        coalesce(latest.vo2max_running_ml_kg_min, carried.vo2max_running_ml_kg_min)
            as vo2max_running_ml_kg_min,
        coalesce(latest.vo2max_cycling_ml_kg_min, carried.vo2max_cycling_ml_kg_min)
            as vo2max_cycling_ml_kg_min
    )
from latest
left join carried using (account)
{%- else -%}
select * from latest
{%- endif %}
