"""Synthetic sparkmodels projects for benchmarks: a warehouse-shaped DAG of N models, or N trivial models.

Warehouse mode (default), deterministic for a given --models and --seed:
  seeds/        3 small CSVs (countries, currencies, channels)
  sources       3 external Parquet sources with 2-3 tables each (files need not exist to ls/compile)
  staging/      ~10% of the models, one per source table or seed, renaming and casting columns
  intermediate/ and marts/  the rest, in layers; each model refs 1-3 earlier models
  macros/       5 macros, called by ~30% of the models
  configs       ~20% `{{ config(materialized='table') }}`, ~25% tags, folder configs in project.yml
  schema.yml    per folder; ~20% of the models have column tests [unique, not_null]
  Python models ~1% (at least 2): `def model(ctx): return ctx.ref('a').join(ctx.ref('b'), 'id')`

Trivial mode (--trivial view|table, or --table-models): N independent one-line models
`select <i> as id, 'm<i>' as label`, all materialised the same way (benchmark 2, per-model overhead).

Usage: python bench/gen_project.py --models 1000 --out /tmp/wh [--seed 7] [--trivial view|table]
"""

from __future__ import annotations

import argparse
import random
import shutil
from pathlib import Path

PROJECT = "bench_wh"
DOMAINS = ("finance", "sales", "marketing", "ops", "product")
SOURCES = {
    "erp": ("orders", "invoices", "payments"),
    "crm": ("customers", "accounts"),
    "web": ("events", "sessions", "pageviews"),
}
SEEDS = {
    "countries": "code,name,region\nDE,Germany,EU\nFR,France,EU\nUS,United States,NA\nJP,Japan,APAC\n",
    "currencies": "code,rate_to_eur\nEUR,1.0\nUSD,0.92\nJPY,0.0062\n",
    "channels": "channel_id,channel_name,is_paid\n1,organic,false\n2,search,true\n3,social,true\n",
}
MACROS = {
    "money.sql": """\
{% macro cents_to_units(column, scale=2) -%}
    round(cast({{ column }} as double) / 100, {{ scale }})
{%- endmacro %}

{% macro safe_divide(num, den) -%}
    case when {{ den }} is null or {{ den }} = 0 then null else {{ num }} / {{ den }} end
{%- endmacro %}
""",
    "keys.sql": """\
{% macro make_key(fields) -%}
    md5(concat_ws('|'{%- for f in fields %}, coalesce(cast({{ f }} as string), '_null_'){%- endfor %}))
{%- endmacro %}
""",
    "dates.sql": """\
{% macro month_of(column) -%}
    date_trunc('month', {{ column }})
{%- endmacro %}

{% macro is_recent(column, days=30) -%}
    {{ column }} >= date_sub(current_date(), {{ days }})
{%- endmacro %}
""",
}
MACRO_CALLS = (
    "{{ cents_to_units('amount_cents') }} as amount_units",
    "{{ safe_divide('amount', 'quantity') }} as unit_amount",
    "{{ make_key(['id', 'updated_at']) }} as row_key",
    "{{ month_of('updated_at') }} as updated_month",
    "case when {{ is_recent('updated_at', 7) }} then 1 else 0 end as is_recent_week",
)


def _w(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _project_yml(extra_models: str = "") -> str:
    return (
        f"name: {PROJECT}\nversion: '1.0'\nmodel-paths: [models]\nseed-paths: [seeds]\nmacro-paths: [macros]\n"
        "vars:\n  lookback_days: 30\n"
        f"models:\n  {PROJECT}:\n    +materialized: view\n{extra_models}"
    )


def _staging_sql(source: tuple[str, str] | None, seed: str | None, macro: str | None) -> str:
    rel = f"{{{{ source('{source[0]}', '{source[1]}') }}}}" if source else f"{{{{ ref('{seed}') }}}}"
    extra = f",\n    {macro}" if macro else ""
    return f"""with raw as (
    select * from {rel}
)

select
    cast(id as bigint) as id,
    cast(amount_cents as bigint) as amount_cents,
    cast(amount_cents as double) / 100 as amount,
    cast(quantity as int) as quantity,
    lower(trim(category)) as category,
    cast(updated_at as timestamp) as updated_at{extra}
from raw
where id is not null
"""


def _layer_sql(refs: list[str], macro: str | None, config: str | None) -> str:
    head = f"{config}\n\n" if config else ""
    ctes = ",\n\n".join(f"{r} as (\n    select * from {{{{ ref('{r}') }}}}\n)" for r in refs)
    base = refs[0]
    joins = "".join(f"\nleft join {r} on {base}.id = {r}.id" for r in refs[1:])
    amount = " + ".join(f"coalesce({r}.amount, 0)" for r in refs)
    extra = f",\n    {macro}" if macro else ""
    return f"""{head}with {ctes},

joined as (
    select
        {base}.id,
        {amount} as amount,
        {base}.quantity,
        {base}.category,
        {base}.updated_at
    from {base}{joins}
)

select
    id,
    amount,
    quantity,
    category,
    updated_at,
    amount * 100 as amount_cents,
    case when amount > 1000 then 'large' when amount > 100 then 'medium' else 'small' end as size_band{extra}
from joined
where updated_at >= date_sub(current_date(), {{{{ var('lookback_days') }}}})
"""


def _python_model(refs: list[str]) -> str:
    body = f"ctx.ref('{refs[0]}')"
    for r in refs[1:]:
        body += f".join(ctx.ref('{r}').select('id'), 'id', 'left')"
    return f'''"""Python model generated by bench/gen_project.py."""


def model(ctx):
    ctx.config(materialized="table", tags=["python"])
    df = {body}
    return df.withColumn("amount_doubled", df.amount * 2)
'''


def _schema_yml(entries: list[tuple[str, bool]], sources: bool = False) -> str:
    lines = ["version: 2", ""]
    if sources:
        lines.append("sources:")
        for src, tables in SOURCES.items():
            lines += [f"  - name: {src}", f"    description: Raw {src} extracts.", "    tables:"]
            for t in tables:
                lines += [f"      - name: {t}", "        external:",
                          f"          location: data/{src}/{t}/*.parquet", "          format: parquet"]
        lines.append("")
    if entries:
        lines.append("models:")
        for name, tested in entries:
            lines += [f"  - name: {name}", f"    description: Generated model {name}.", "    columns:",
                      "      - name: id", "        description: Primary key."]
            if tested:
                lines += ["        tests: [unique, not_null]"]
            lines += ["      - name: amount", "        description: Amount in units."]
    return "\n".join(lines) + "\n"


def generate(n_models: int, out: str | Path, seed: int = 7) -> Path:
    """Write a warehouse-shaped project with n_models models into out (replaced if it exists)."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    rng = random.Random(seed)
    folder_cfg = "    intermediate:\n      +tags: [intermediate]\n    marts:\n      +materialized: table\n      +tags: [marts]\n"
    _w(out / "project.yml", _project_yml(folder_cfg))
    for name, text in SEEDS.items():
        _w(out / "seeds" / f"{name}.csv", text)
    for name, text in MACROS.items():
        _w(out / "macros" / name, text)

    inputs = [(s, t) for s, ts in SOURCES.items() for t in ts]
    n_py = max(2, n_models // 100) if n_models >= 10 else 0
    n_stg = max(3, n_models // 10)
    n_sql_layer = n_models - n_stg - n_py
    names: list[str] = []
    schema_entries: dict[Path, list[tuple[str, bool]]] = {}

    def maybe_macro() -> str | None:
        return rng.choice(MACRO_CALLS) if rng.random() < 0.3 else None

    def register(folder: Path, name: str) -> None:
        names.append(name)
        schema_entries.setdefault(folder, [])
        if rng.random() < 0.2:
            schema_entries[folder].append((name, True))
        elif rng.random() < 0.1:
            schema_entries[folder].append((name, False))

    for i in range(n_stg):
        pick = i % (len(inputs) + len(SEEDS))
        if pick < len(inputs):
            src, seed_name = inputs[pick], None
            folder = out / "models" / "staging" / src[0]
        else:
            src, seed_name = None, list(SEEDS)[pick - len(inputs)]
            folder = out / "models" / "staging" / "seeds"
        name = f"stg_{i:05d}"
        _w(folder / f"{name}.sql", _staging_sql(src, seed_name, maybe_macro()))
        register(folder, name)

    n_int = n_sql_layer // 2
    for i in range(n_sql_layer):
        layer = "intermediate" if i < n_int else "marts"
        domain = DOMAINS[rng.randrange(len(DOMAINS))]
        folder = out / "models" / layer / domain
        name = f"{'int' if layer == 'intermediate' else 'fct'}_{domain}_{i:05d}"
        # Prefer recent models so the DAG is deep, not a star around staging.
        window = names[-200:] if rng.random() < 0.8 else names
        refs = rng.sample(window, k=min(len(window), rng.randint(1, 3)))
        r = rng.random()
        config = ("{{ config(materialized='table') }}" if r < 0.2
                  else "{{ config(tags=['daily']) }}" if r < 0.35
                  else "{{ config(materialized='table', tags=['hourly', 'finance']) }}" if r < 0.45
                  else None)
        _w(folder / f"{name}.sql", _layer_sql(refs, maybe_macro(), config))
        register(folder, name)

    for i in range(n_py):
        refs = rng.sample(names[-100:], k=min(2, len(names)))
        _w(out / "models" / "python" / f"py_model_{i:04d}.py", _python_model(refs))

    first = True
    for folder, entries in sorted(schema_entries.items()):
        if first or entries:
            _w(folder / "schema.yml", _schema_yml(entries, sources=first))
            first = False
    return out


def generate_trivial(n_models: int, out: str | Path, materialized: str = "view") -> Path:
    """n_models independent one-line models, all views or all Parquet tables."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    _w(out / "project.yml",
       f"name: {PROJECT}\nversion: '1.0'\nmodels:\n  {PROJECT}:\n    +materialized: {materialized}\n")
    for i in range(n_models):
        _w(out / "models" / f"m_{i:04d}.sql", f"select {i} as id, 'm{i}' as label\n")
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, required=True, help="number of models")
    ap.add_argument("--out", required=True, help="project folder to (re)create")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--trivial", choices=["view", "table"], help="N independent trivial models")
    ap.add_argument("--table-models", action="store_true", help="same as --trivial table")
    args = ap.parse_args(argv)
    trivial = "table" if args.table_models else args.trivial
    if trivial:
        path = generate_trivial(args.models, args.out, trivial)
    else:
        path = generate(args.models, args.out, args.seed)
    print(f"wrote {args.models} models to {path}")


if __name__ == "__main__":
    main()
