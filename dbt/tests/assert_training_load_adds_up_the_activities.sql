-- Daily TRIMP is the sum of the activities' and weekly TRIMP likewise: nothing is lost or
-- counted twice between fct_activities, fct_training_load and agg_weekly_training.
-- Returns the accounts whose totals differ by more than rounding.
-- Several models feed it: Dagster shows it as a check on fct_training_load.
{{ config(meta={'dagster': {'ref': {'name': 'fct_training_load'}}}) }}

with activities as (

    select account, count(*) as sessions, coalesce(sum(trimp), 0) as trimp
    from {{ ref('fct_activities') }}
    group by account

),

daily as (

    select account, sum(activity_count) as sessions, sum(trimp) as trimp
    from {{ ref('fct_training_load') }}
    group by account

),

weekly as (

    select account, sum(sessions) as sessions, coalesce(sum(trimp), 0) as trimp
    from {{ ref('agg_weekly_training') }}
    group by account

)

select
    activities.account,
    activities.sessions,
    daily.sessions as daily_sessions,
    weekly.sessions as weekly_sessions,
    activities.trimp,
    daily.trimp as daily_trimp,
    weekly.trimp as weekly_trimp
from activities
left join daily using (account)
left join weekly using (account)
where daily.sessions is distinct from activities.sessions
   or weekly.sessions is distinct from activities.sessions
   or abs(daily.trimp - activities.trimp) > 0.01 * (activities.sessions + 1)
   or abs(weekly.trimp - activities.trimp) > 0.01 * (activities.sessions + 1)
