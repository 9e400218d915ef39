-- Per account, ISO week and sport: how much training, how hard (TRIMP) and at what heart
-- rate (time in zones 1-5 from the activities' heart-rate samples).

with activities as (

    select * from {{ ref('fct_activities') }}

),

weeks as (

    select calendar_date, iso_year, iso_week, iso_year_week, week_start
    from {{ ref('dim_date') }}

)

select
    activities.account,
    weeks.week_start,
    weeks.iso_year,
    weeks.iso_week,
    weeks.iso_year_week,
    coalesce(activities.activity_type, activities.fit_sports, 'unknown') as sport,
    count(*) as sessions,
    sum(activities.duration_s) as duration_s,
    sum(activities.distance_m) as distance_m,
    sum(activities.elevation_gain_m) as elevation_gain_m,
    round(sum(activities.trimp), 2) as trimp,
    sum(activities.hr_zone_1_s) as hr_zone_1_s,
    sum(activities.hr_zone_2_s) as hr_zone_2_s,
    sum(activities.hr_zone_3_s) as hr_zone_3_s,
    sum(activities.hr_zone_4_s) as hr_zone_4_s,
    sum(activities.hr_zone_5_s) as hr_zone_5_s
from activities
inner join weeks on weeks.calendar_date = activities.activity_date
group by all
