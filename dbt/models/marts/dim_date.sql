-- One row per calendar day, whole ISO weeks (Monday to Sunday) from the week of the first day
-- any account holds data for to the week of the last one.

with bounds as (

    select
        date_trunc('week', min(first_date))::date as first_monday,
        (date_trunc('week', max(last_date)) + interval 6 day)::date as last_sunday
    from {{ ref('dim_account') }}

),

spine as (

    select cast(unnest(generate_series(first_monday, last_sunday, interval 1 day)) as date)
        as calendar_date
    from bounds
    where first_monday is not null

)

select
    calendar_date,
    cast(year(calendar_date) as integer) as year,
    cast(quarter(calendar_date) as integer) as quarter,
    cast(month(calendar_date) as integer) as month,
    monthname(calendar_date) as month_name,
    date_trunc('month', calendar_date)::date as month_start,
    cast(day(calendar_date) as integer) as day_of_month,
    cast(dayofyear(calendar_date) as integer) as day_of_year,
    cast(isoyear(calendar_date) as integer) as iso_year,
    cast(week(calendar_date) as integer) as iso_week,
    printf('%04d-W%02d', isoyear(calendar_date), week(calendar_date)) as iso_year_week,
    date_trunc('week', calendar_date)::date as week_start,
    cast(isodow(calendar_date) as integer) as iso_weekday,
    dayname(calendar_date) as weekday_name,
    isodow(calendar_date) >= 6 as is_weekend
from spine
