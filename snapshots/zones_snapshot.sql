{#- The TLC has revised its zone lookup over time (names, boroughs, service zones): keep every
    version of each zone, valid from the build that first saw it. -#}
{% snapshot zones_snapshot %}
{{ config(unique_key='locationid', strategy='check', check_cols=['borough', 'zone', 'service_zone'],
          hard_deletes='invalidate') }}
select locationid, borough, zone, service_zone from {{ ref('taxi_zone_lookup') }}
{% endsnapshot %}
