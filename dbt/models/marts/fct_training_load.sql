-- One row per account and day over the whole date spine: the day's Banister TRIMP (the sum of
-- its activities', 0 on a day without training), the acute (7-day) and chronic (28-day)
-- loads as rolling means, and their ratio. See fct_training_load.yml for the formulas, and for
-- the 28-day load focus (Garmin's "load balance") derived from each activity's training effect.

with spine as (

    select dim_account.account, dim_date.calendar_date, dim_account.first_date
    from {{ ref('dim_account') }} as dim_account
    inner join {{ ref('dim_date') }} as dim_date
        on dim_date.calendar_date between dim_account.first_date and dim_account.last_date

),

focused as (

    -- Each activity's load (Garmin's EPOC-based load, else its TRIMP) goes to one focus.
    select
        *,
        coalesce(garmin_training_load, trimp, 0) as focus_load,
        case
            when anaerobic_training_effect >= 2.0 then 'anaerobic'
            when aerobic_training_effect >= 3.5 then 'high_aerobic'
            else 'low_aerobic'
        end as load_focus
    from {{ ref('fct_activities') }}

),

daily as (

    select
        account,
        activity_date as calendar_date,
        count(*) as activity_count,
        sum(duration_s) as training_duration_s,
        sum(trimp) as trimp,
        count(*) filter (where trimp is null) as activities_without_heart_rate,
        sum(focus_load) filter (where load_focus = 'anaerobic') as anaerobic_load,
        sum(focus_load) filter (where load_focus = 'high_aerobic') as high_aerobic_load,
        sum(focus_load) filter (where load_focus = 'low_aerobic') as low_aerobic_load
    from focused
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
        round(sum(coalesce(daily.low_aerobic_load, 0)) over last_28_days, 1)
            as low_aerobic_load_28d,
        round(sum(coalesce(daily.high_aerobic_load, 0)) over last_28_days, 1)
            as high_aerobic_load_28d,
        round(sum(coalesce(daily.anaerobic_load, 0)) over last_28_days, 1)
            as anaerobic_load_28d,
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
