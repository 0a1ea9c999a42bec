{#
    dbt's cross-database macros for Spark SQL, written for sparkmodels. Each public macro
    dispatches (`adapter.dispatch(name, 'dbt')`), so a project's own `spark__<name>` or
    `default__<name>` replaces the implementation, as in dbt; the `spark__` macros below are ours.
#}
{% macro any_value(expression) -%}{{ return(adapter.dispatch('any_value', 'dbt')(expression)) }}{%- endmacro %}
{% macro spark__any_value(expression) -%}any_value({{ expression }}){%- endmacro %}

{% macro bool_or(expression) -%}{{ return(adapter.dispatch('bool_or', 'dbt')(expression)) }}{%- endmacro %}
{% macro spark__bool_or(expression) -%}bool_or({{ expression }}){%- endmacro %}

{% macro cast(field, type) -%}{{ return(adapter.dispatch('cast', 'dbt')(field, type)) }}{%- endmacro %}
{% macro spark__cast(field, type) -%}cast({{ field }} as {{ type }}){%- endmacro %}

{% macro safe_cast(field, type) -%}{{ return(adapter.dispatch('safe_cast', 'dbt')(field, type)) }}{%- endmacro %}
{# try_cast: null instead of an error for a value that does not convert, with ANSI mode on or off #}
{% macro spark__safe_cast(field, type) -%}try_cast({{ field }} as {{ type }}){%- endmacro %}

{% macro cast_bool_to_text(field) -%}{{ return(adapter.dispatch('cast_bool_to_text', 'dbt')(field)) }}{%- endmacro %}
{% macro spark__cast_bool_to_text(field) -%}cast({{ field }} as {{ api.Column.translate_type('string') }}){%- endmacro %}

{% macro concat(fields) -%}{{ return(adapter.dispatch('concat', 'dbt')(fields)) }}{%- endmacro %}
{% macro spark__concat(fields) -%}concat({{ fields | join(', ') }}){%- endmacro %}

{% macro current_timestamp() -%}{{ return(adapter.dispatch('current_timestamp', 'dbt')()) }}{%- endmacro %}
{% macro spark__current_timestamp() -%}current_timestamp(){%- endmacro %}

{% macro equals(expr1, expr2) -%}{{ return(adapter.dispatch('equals', 'dbt')(expr1, expr2)) }}{%- endmacro %}
{# null-safe: two nulls are equal, as dbt's equals() #}
{% macro spark__equals(expr1, expr2) -%}({{ expr1 }} <=> {{ expr2 }}){%- endmacro %}

{% macro escape_single_quotes(expression) -%}{{ return(adapter.dispatch('escape_single_quotes', 'dbt')(expression)) }}{%- endmacro %}
{# Spark reads 'a''b' as two adjacent literals ('ab'): quotes are escaped with a backslash, so
   backslashes are escaped first. #}
{% macro spark__escape_single_quotes(expression) -%}{{ expression | replace('\\', '\\\\') | replace("'", "\\'") }}{%- endmacro %}

{% macro string_literal(value) -%}{{ return(adapter.dispatch('string_literal', 'dbt')(value)) }}{%- endmacro %}
{% macro spark__string_literal(value) -%}'{{ value }}'{%- endmacro %}

{% macro except() -%}{{ return(adapter.dispatch('except', 'dbt')()) }}{%- endmacro %}
{% macro spark__except() -%}except{%- endmacro %}

{% macro intersect() -%}{{ return(adapter.dispatch('intersect', 'dbt')()) }}{%- endmacro %}
{% macro spark__intersect() -%}intersect{%- endmacro %}

{% macro hash(field) -%}{{ return(adapter.dispatch('hash', 'dbt')(field)) }}{%- endmacro %}
{% macro spark__hash(field) -%}md5(cast({{ field }} as {{ api.Column.translate_type('string') }})){%- endmacro %}

{% macro length(expression) -%}{{ return(adapter.dispatch('length', 'dbt')(expression)) }}{%- endmacro %}
{% macro spark__length(expression) -%}length({{ expression }}){%- endmacro %}

{% macro position(substring_text, string_text) -%}{{ return(adapter.dispatch('position', 'dbt')(substring_text, string_text)) }}{%- endmacro %}
{% macro spark__position(substring_text, string_text) -%}locate({{ substring_text }}, {{ string_text }}){%- endmacro %}

{% macro replace(field, old_chars, new_chars) -%}{{ return(adapter.dispatch('replace', 'dbt')(field, old_chars, new_chars)) }}{%- endmacro %}
{% macro spark__replace(field, old_chars, new_chars) -%}replace({{ field }}, {{ old_chars }}, {{ new_chars }}){%- endmacro %}

{% macro right(string_text, length_expression) -%}{{ return(adapter.dispatch('right', 'dbt')(string_text, length_expression)) }}{%- endmacro %}
{# substring from the end; a length of 0 gives '' (substring(s, -0) would give all of s) #}
{% macro spark__right(string_text, length_expression) -%}
case when {{ length_expression }} = 0 then '' else substring({{ string_text }}, -({{ length_expression }})) end
{%- endmacro %}

{% macro split_part(string_text, delimiter_text, part_number) -%}{{ return(adapter.dispatch('split_part', 'dbt')(string_text, delimiter_text, part_number)) }}{%- endmacro %}
{# Spark's split_part takes the delimiter literally and counts negative parts from the end, as dbt's #}
{% macro spark__split_part(string_text, delimiter_text, part_number) -%}split_part({{ string_text }}, {{ delimiter_text }}, {{ part_number }}){%- endmacro %}

{% macro listagg(measure, delimiter_text="','", order_by_clause=none, limit_num=none) -%}
{{ return(adapter.dispatch('listagg', 'dbt')(measure, delimiter_text, order_by_clause, limit_num)) }}
{%- endmacro %}
{# collect_list drops nulls, as listagg does. An order_by_clause ("order by a desc, b") sorts the
   collected structs with a comparator over its keys, before any limit. #}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
{%- if order_by_clause -%}
  {%- set keys = [] -%}
  {%- for part in modules.re.sub('(?i)^\\s*order\\s+by\\s+', '', order_by_clause).split(',') -%}
    {%- set m = modules.re.match('(?is)^\\s*(.*?)(?:\\s+(asc|desc))?\\s*$', part) -%}
    {%- do keys.append((m.group(1), (m.group(2) or 'asc') | lower)) -%}
  {%- endfor -%}
  {%- set collected -%}
transform(array_sort(filter(collect_list(struct({% for k in keys %}{{ k[0] }} as k{{ loop.index }}, {% endfor %}{{ measure }} as v)), x -> x.v is not null), (l, r) -> case
{%- for k in keys %} when l.k{{ loop.index }} < r.k{{ loop.index }} then {{ -1 if k[1] == 'asc' else 1 }} when l.k{{ loop.index }} > r.k{{ loop.index }} then {{ 1 if k[1] == 'asc' else -1 }}{% endfor %} else 0 end), x -> x.v)
  {%- endset -%}
{%- else -%}
  {%- set collected = 'collect_list(' ~ measure ~ ')' -%}
{%- endif -%}
array_join({% if limit_num %}slice({{ collected }}, 1, {{ limit_num }}){% else %}{{ collected }}{% endif %}, {{ delimiter_text }})
{%- endmacro %}
