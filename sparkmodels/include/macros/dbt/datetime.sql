{#
    dbt's date and time macros for Spark SQL. Dateparts are bare words, as in dbt:
    dbt.dateadd('day', 1, 'created_at').
#}
{% macro dateadd(datepart, interval, from_date_or_timestamp) -%}
{{ return(adapter.dispatch('dateadd', 'dbt')(datepart, interval, from_date_or_timestamp)) }}
{%- endmacro %}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
timestampadd({{ datepart }}, {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}

{% macro datediff(first_date, second_date, datepart) -%}
{{ return(adapter.dispatch('datediff', 'dbt')(first_date, second_date, datepart)) }}
{%- endmacro %}
{# dbt's datediff counts the datepart boundaries crossed between the two values (2020-01-31 and
   2020-02-01 are one month apart), where Spark's timestampdiff counts whole elapsed units. #}
{% macro spark__datediff(first_date, second_date, datepart) -%}
{%- set dp = datepart | lower | trim("'") -%}
{%- set a, b = '(' ~ first_date ~ ')', '(' ~ second_date ~ ')' -%}
{%- if dp == 'year' -%}(year({{ b }}) - year({{ a }}))
{%- elif dp == 'quarter' -%}((year({{ b }}) * 4 + quarter({{ b }})) - (year({{ a }}) * 4 + quarter({{ a }})))
{%- elif dp == 'month' -%}((year({{ b }}) * 12 + month({{ b }})) - (year({{ a }}) * 12 + month({{ a }})))
{%- elif dp == 'week' -%}(datediff(to_date(date_trunc('week', {{ b }})), to_date(date_trunc('week', {{ a }}))) div 7)
{%- elif dp == 'day' -%}datediff(to_date({{ b }}), to_date({{ a }}))
{%- elif dp in ('hour', 'minute', 'second') -%}
{%- set seconds = {'hour': 3600, 'minute': 60, 'second': 1}[dp] -%}
((unix_seconds(date_trunc('{{ dp }}', {{ b }})) - unix_seconds(date_trunc('{{ dp }}', {{ a }}))) div {{ seconds }})
{%- elif dp == 'millisecond' -%}(unix_millis(cast({{ b }} as timestamp)) - unix_millis(cast({{ a }} as timestamp)))
{%- elif dp == 'microsecond' -%}(unix_micros(cast({{ b }} as timestamp)) - unix_micros(cast({{ a }} as timestamp)))
{%- else -%}{{ exceptions.raise_compiler_error("datediff: unsupported datepart '" ~ datepart ~ "' on Spark") }}
{%- endif -%}
{%- endmacro %}

{% macro date_trunc(datepart, date) -%}{{ return(adapter.dispatch('date_trunc', 'dbt')(datepart, date)) }}{%- endmacro %}
{% macro spark__date_trunc(datepart, date) -%}date_trunc('{{ datepart }}', {{ date }}){%- endmacro %}

{% macro last_day(date, datepart) -%}{{ return(adapter.dispatch('last_day', 'dbt')(date, datepart)) }}{%- endmacro %}
{% macro spark__last_day(date, datepart) -%}
{%- if datepart | lower == 'month' -%}last_day({{ date }})
{%- else -%}cast(timestampadd(day, -1, timestampadd({{ datepart }}, 1, date_trunc('{{ datepart }}', {{ date }}))) as date)
{%- endif -%}
{%- endmacro %}

{% macro date(year, month, day) -%}{{ return(adapter.dispatch('date', 'dbt')(year, month, day)) }}{%- endmacro %}
{% macro spark__date(year, month, day) -%}
to_date('{{ modules.datetime.date(year, month, day).strftime("%Y-%m-%d") }}')
{%- endmacro %}

{% macro generate_series(upper_bound) -%}{{ return(adapter.dispatch('generate_series', 'dbt')(upper_bound)) }}{%- endmacro %}
{# 1..upper_bound as generated_number; the bound may be a SQL expression (get_intervals_between) #}
{% macro spark__generate_series(upper_bound) -%}
select generated_number from (select explode(sequence(1, greatest(cast({{ upper_bound }} as bigint), 1))) as generated_number) where generated_number <= {{ upper_bound }}
{%- endmacro %}

{% macro get_intervals_between(start_date, end_date, datepart) -%}
{{ return(adapter.dispatch('get_intervals_between', 'dbt')(start_date, end_date, datepart)) }}
{%- endmacro %}
{# dbt runs a query at compile time for this number; sparkmodels compiles without Spark and
   returns the SQL expression instead, which every macro here accepts where dbt takes the number. #}
{% macro spark__get_intervals_between(start_date, end_date, datepart) -%}
({{ dbt.datediff(start_date, end_date, datepart) }})
{%- endmacro %}

{% macro date_spine(datepart, start_date, end_date) -%}
{{ return(adapter.dispatch('date_spine', 'dbt')(datepart, start_date, end_date)) }}
{%- endmacro %}
{# Every datepart from start_date (included) to end_date (excluded), as timestamps in a column
   date_<datepart>, with Spark's sequence() instead of a generated series and dateadd(). #}
{% macro spark__date_spine(datepart, start_date, end_date) -%}
select date_{{ datepart }} from (
    select explode(sequence(
        cast({{ start_date }} as timestamp),
        greatest(cast({{ start_date }} as timestamp), cast({{ end_date }} as timestamp)),
        interval 1 {{ datepart }}
    )) as date_{{ datepart }}
) where date_{{ datepart }} < cast({{ end_date }} as timestamp)
{%- endmacro %}
