-- Resting heart rate over the last 90 days: each account's daily resting heart rate beside
-- its 7-day mean, and the 90-day trend as a least-squares slope in bpm per week (negative:
-- falling, as it does with rising fitness). The 90 days end on the account's last day.

with recent as (

    select daily.account, daily.calendar_date, daily.resting_heart_rate_bpm
    from {{ ref('fct_daily_health') }} as daily
    inner join {{ ref('dim_account') }} as accounts using (account)
    where daily.calendar_date > accounts.last_date - 90

)

select
    account,
    calendar_date,
    resting_heart_rate_bpm,
    round(avg(resting_heart_rate_bpm) over last_7_days, 1) as resting_hr_7_day_mean_bpm,
    round(
        7 * regr_slope(resting_heart_rate_bpm, epoch(calendar_date) / 86400)
            over (partition by account),
        3
    ) as trend_bpm_per_week
from recent
window last_7_days as (
    partition by account order by calendar_date rows between 6 preceding and current row
)
order by account, calendar_date
