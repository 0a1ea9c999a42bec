{#
    Where a node's relation lives, as dbt names it. Projects override these by defining a macro
    of the same name (or spark__/default__ implementations).
#}
{% macro generate_schema_name(custom_schema_name=none, node=none) -%}
{{ return(adapter.dispatch('generate_schema_name', 'dbt')(custom_schema_name, node)) }}
{%- endmacro %}
{# a custom schema is appended to the target's: <target_schema>_<custom> #}
{% macro default__generate_schema_name(custom_schema_name, node) -%}
{%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ target.schema }}_{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}

{% macro generate_alias_name(custom_alias_name=none, node=none) -%}
{{ return(adapter.dispatch('generate_alias_name', 'dbt')(custom_alias_name, node)) }}
{%- endmacro %}
{% macro default__generate_alias_name(custom_alias_name, node) -%}
{%- if custom_alias_name -%}{{ custom_alias_name | trim }}
{%- elif node.version -%}{{ node.name ~ "_v" ~ node.version }}
{%- else -%}{{ node.name }}{%- endif -%}
{%- endmacro %}

{% macro generate_database_name(custom_database_name=none, node=none) -%}
{{ return(adapter.dispatch('generate_database_name', 'dbt')(custom_database_name, node)) }}
{%- endmacro %}
{# Spark has no databases above schemas: none unless a project says otherwise #}
{% macro default__generate_database_name(custom_database_name, node) -%}
{%- if custom_database_name is not none -%}{{ custom_database_name | trim }}{%- endif -%}
{%- endmacro %}
