-- One row per account and day over the whole date spine: the day's Banister TRIMP (the sum of
-- its activities', 0 on a day without training), the acute (7-day) and chronic (28-day)
-- loads as rolling means, and their ratio. See _marts__models.yml for the formula.

with spine as (

    select dim_account.account, dim_date.calendar_date, dim_account.first_date
    from {{ ref('dim_account') }} as dim_account
    inner join {{ ref('dim_date') }} as dim_date
        on dim_date.calendar_date between dim_account.first_date and dim_account.last_date

),

daily as (

    select
        account,
        activity_date as calendar_date,
        count(*) as activity_count,
        sum(duration_s) as training_duration_s,
        sum(trimp) as trimp,
        count(*) filter (where trimp is null) as activities_without_heart_rate
    from {{ ref('fct_activities') }}
    group by account, activity_date

),

loads as (

    select
        spine.account,
        spine.calendar_date,
        coalesce(daily.activity_count, 0) as activity_count,
        coalesce(daily.training_duration_s, 0) as training_duration_s,
        coalesce(daily.activities_without_heart_rate, 0) as activities_without_heart_rate,
        round(coalesce(daily.trimp, 0), 2) as trimp,
        -- Days before the first one count as rest: both means ramp up over the first weeks.
        round(sum(coalesce(daily.trimp, 0)) over last_7_days / 7.0, 2) as acute_load,
        round(sum(coalesce(daily.trimp, 0)) over last_28_days / 28.0, 2) as chronic_load,
        cast(datediff('day', spine.first_date, spine.calendar_date) + 1 as integer)
            as days_of_history
    from spine
    left join daily using (account, calendar_date)
    window
        last_7_days as (
            partition by spine.account order by spine.calendar_date
            rows between 6 preceding and current row
        ),
        last_28_days as (
            partition by spine.account order by spine.calendar_date
            rows between 27 preceding and current row
        )

)

select
    *,
    round(acute_load / nullif(chronic_load, 0), 2) as acute_chronic_ratio,
    days_of_history >= 28 as chronic_load_complete
from loads
