-- One wide row per account and day: the daily summary, the night's sleep, heart-rate samples
-- and the day's training, side by side.

with summary as (

    select * from {{ ref('stg_daily_summary') }}

),

sleep as (

    select * from {{ ref('stg_sleep') }}

),

heart_rate as (

    select
        account,
        calendar_date,
        count(*) as heart_rate_samples,
        round(avg(heart_rate_bpm), 1) as mean_heart_rate_bpm
    from {{ ref('stg_heart_rate') }}
    group by account, calendar_date

),

training as (

    select
        account,
        activity_date as calendar_date,
        count(*) as activity_count,
        sum(duration_s) as activity_duration_s,
        sum(distance_m) as activity_distance_m
    from {{ ref('stg_activities') }}
    group by account, activity_date

)

select
    summary.account,
    summary.calendar_date,
    summary.total_steps,
    summary.daily_step_goal,
    summary.total_distance_m,
    summary.total_kilocalories,
    summary.active_kilocalories,
    summary.resting_heart_rate_bpm,
    summary.min_heart_rate_bpm,
    summary.max_heart_rate_bpm,
    summary.average_stress_level,
    summary.body_battery_highest,
    summary.body_battery_lowest,
    summary.floors_ascended,
    summary.moderate_intensity_minutes,
    summary.vigorous_intensity_minutes,
    heart_rate.heart_rate_samples,
    heart_rate.mean_heart_rate_bpm,
    sleep.sleep_s,
    sleep.deep_sleep_s,
    sleep.rem_sleep_s,
    sleep.sleep_score,
    coalesce(training.activity_count, 0) as activity_count,
    coalesce(training.activity_duration_s, 0) as activity_duration_s,
    coalesce(training.activity_distance_m, 0) as activity_distance_m
from summary
left join sleep using (account, calendar_date)
left join heart_rate using (account, calendar_date)
left join training using (account, calendar_date)
