-- Weekly training load by sport: for each account, ISO week and sport, the sessions, hours,
-- kilometres and Banister TRIMP, and the sport's share of the week's TRIMP.

with weeks as (

    select
        account,
        week_start,
        iso_year_week,
        sport,
        sessions,
        duration_s,
        distance_m,
        trimp
    from {{ ref('agg_weekly_training') }}

)

select
    account,
    week_start,
    iso_year_week,
    sport,
    sessions,
    round(duration_s / 3600, 2) as hours,
    round(distance_m / 1000, 2) as distance_km,
    trimp,
    round(trimp / nullif(sum(trimp) over (partition by account, week_start), 0), 3)
        as share_of_week_trimp
from weeks
order by account, week_start desc, trimp desc nulls last, sport
