{#
    Deterministic surrogate key: md5 of the given columns cast to string,
    nulls replaced by '_null_', joined with '|'.
#}
{% macro surrogate_key(field_list) -%}
    md5(concat_ws('|'
    {%- for field in field_list %},
        coalesce(cast({{ field }} as string), '_null_')
    {%- endfor %}
    ))
{%- endmacro %}
