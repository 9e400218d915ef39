-- Sleep vs HRV trend: week by week for each account, how long and how well it slept beside
-- its overnight heart-rate variability, each with a 4-week rolling mean for the trend.

with nights as (

    select
        sleep.account,
        date_trunc('week', sleep.calendar_date)::date as week_start,
        sleep.sleep_s,
        sleep.sleep_score,
        -- Garmin's nightly HRV summary, else the sleep record's own overnight mean.
        coalesce(hrv.last_night_avg_ms, sleep.average_overnight_hrv_ms) as overnight_hrv_ms
    from {{ ref('fct_sleep') }} as sleep
    left join {{ ref('fct_hrv') }} as hrv using (account, calendar_date)

),

weekly as (

    select
        account,
        week_start,
        count(*) as nights,
        avg(sleep_s) / 3600 as sleep_h,
        avg(sleep_score) as sleep_score,
        avg(overnight_hrv_ms) as overnight_hrv_ms
    from nights
    group by account, week_start

)

select
    account,
    week_start,
    nights,
    round(sleep_h, 2) as mean_sleep_h,
    round(sleep_score, 1) as mean_sleep_score,
    round(overnight_hrv_ms, 1) as mean_overnight_hrv_ms,
    round(avg(sleep_h) over last_4_weeks, 2) as sleep_h_4_week_mean,
    round(avg(overnight_hrv_ms) over last_4_weeks, 1) as overnight_hrv_ms_4_week_mean
from weekly
window last_4_weeks as (
    partition by account order by week_start rows between 3 preceding and current row
)
order by account, week_start
