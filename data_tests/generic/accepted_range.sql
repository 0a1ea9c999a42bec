{#
    Custom generic test (dbt syntax): rows whose column lies outside [min_value, max_value].
    Use it from schema YAML like the built-in tests:  - accepted_range: {arguments: {min_value: 0}}
#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}
select {{ column_name }}
from {{ model }}
where
    {%- if min_value is not none %} {{ column_name }} {{ '<' if inclusive else '<=' }} {{ min_value }}{% endif %}
    {%- if min_value is not none and max_value is not none %} or{% endif %}
    {%- if max_value is not none %} {{ column_name }} {{ '>' if inclusive else '>=' }} {{ max_value }}{% endif %}
    {%- if min_value is none and max_value is none %} false{% endif %}
{% endtest %}
