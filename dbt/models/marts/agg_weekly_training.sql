-- Per account, ISO week and sport: how much training, how hard (TRIMP) and at what heart
-- rate (time in zones 1-5 from the activities' heart-rate samples). Sums of doubles are
-- rounded to what the devices measure (ms, cm): their last bits depend on the order the join
-- hands rows to the sum, and a rebuild must give the same week.

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
    round(sum(activities.duration_s), 3) as duration_s,
    round(sum(activities.distance_m), 2) as distance_m,
    round(sum(activities.elevation_gain_m), 2) as elevation_gain_m,
    round(sum(activities.trimp), 2) as trimp,
    round(sum(activities.hr_zone_1_s), 3) as hr_zone_1_s,
    round(sum(activities.hr_zone_2_s), 3) as hr_zone_2_s,
    round(sum(activities.hr_zone_3_s), 3) as hr_zone_3_s,
    round(sum(activities.hr_zone_4_s), 3) as hr_zone_4_s,
    round(sum(activities.hr_zone_5_s), 3) as hr_zone_5_s
from activities
inner join weeks on weeks.calendar_date = activities.activity_date
group by all
