{% test accepted_range(model, column_name, min_value=none, max_value=none) %}
-- Rows whose value lies outside [min_value, max_value]; nulls are left to not_null tests.
-- A plausibility test: it warns, since real devices are not clean and must not turn the build
-- red (keys, grain and relationships tests error). A model may still ask for severity error.
{{ config(severity='warn') }}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and (
    {% if min_value is not none %} {{ column_name }} < {{ min_value }} {% else %} false {% endif %}
    or
    {% if max_value is not none %} {{ column_name }} > {{ max_value }} {% else %} false {% endif %}
  )
{% endtest %}
