"""Benchmark: the Renderer's memoisation, counted in Jinja's own calls and timed per render (no JVM).

Counts how often Jinja compiles a template (Environment.compile) and makes a macro module
(Template.make_module) over repeated renders: a text is compiled once per (text, file), macro modules
are made once (unless a macro file runs top-level code, then once per render), and every generic
schema test of one custom kind shares one compiled text. These counts were tests once; they watch
Jinja's internals, so they live here, where a change shows as a figure rather than a failure.
The behaviour they buy (same results, errors naming the right file, macros seeing the current
render) is tested in tests/test_render_cache.py.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

NAME = "render"
MACROS = {"macros/a.sql": "{% macro is_recent(column, days=30) -%}\n{{ column }} >= date_sub(current_date(), "
                          "{{ days }})\n{%- endmacro %}\n",
          "macros/b.sql": "{% macro from_ref(name) %}select * from {{ ref(name) }}{% endmacro %}\n"}
SOURCE = "{% set x = 1 %}select {{ x }}, {{ is_recent('d') }} from {{ ref('a') }}"


class _Counter:
    """Counts calls of one attribute (a method) while installed; restores it on exit."""

    def __init__(self, owner, name: str):
        self.owner, self.name, self.calls = owner, name, 0

    def __enter__(self):
        original = self.original = getattr(self.owner, self.name)

        def counted(*args, **kwargs):
            self.calls += 1
            return original(*args, **kwargs)

        setattr(self.owner, self.name, counted)
        return self

    def __exit__(self, *exc) -> None:
        setattr(self.owner, self.name, self.original)


def _renderer(top_level_code: bool = False):
    from sparkmodels.project.render.jinja import Renderer

    r = Renderer(vars={"n": 5}, target={"name": "dev", "project_name": "demo"})
    for name, text in MACROS.items():
        r.add_macro_file(name, text)
    if top_level_code:
        r.add_macro_file("macros/t.sql", "{% set prefix = 'p_' %}{% macro show() %}{{ prefix }}{% endmacro %}")
    return r


def _render_times(renders: int) -> dict:
    """Median ms of the first render of a text (compiled) and of the repeats (memoised)."""
    first, again = [], []
    for _ in range(5):
        r = _renderer()
        t0 = time.perf_counter()
        r.render(SOURCE, filename="m.sql", node_name="m")
        first.append(time.perf_counter() - t0)
        for i in range(renders):
            t0 = time.perf_counter()
            r.render(SOURCE, filename="m.sql", node_name=f"m{i}")
            again.append(time.perf_counter() - t0)
    return {"first_render_ms": round(statistics.median(first) * 1000, 3),
            "repeat_render_ms": round(statistics.median(again) * 1000, 3)}


def _schema_test_compiles(models: int) -> int:
    """Jinja compiles of generic-test texts while loading `models` models with a custom test each."""
    import jinja2

    import sparkmodels

    with tempfile.TemporaryDirectory(prefix="smbench-render-") as tmp:
        root = Path(tmp)
        (root / "models").mkdir()
        (root / "macros").mkdir()
        (root / "project.yml").write_text("name: demo\nversion: '1'\n")
        for i in range(models):
            (root / "models" / f"m{i}.sql").write_text("select 1 as id")
        (root / "models" / "schema.yml").write_text("models:\n" + "".join(
            f"  - name: m{i}\n    columns:\n      - name: id\n        tests: [unique, not_null, positive]\n"
            for i in range(models)))
        (root / "macros" / "positive.sql").write_text(
            "{% test positive(model, column_name) %}select * from {{ model }} where {{ column_name }} <= 0{% endtest %}")
        texts: list[str] = []
        original = jinja2.Environment.compile

        def spy(env, source, *args, **kwargs):
            texts.append(str(source))
            return original(env, source, *args, **kwargs)

        jinja2.Environment.compile = spy
        try:
            sparkmodels.load_project(root)
        finally:
            jinja2.Environment.compile = original
    return sum("__sm_target" in t for t in texts)


def run(quick: bool) -> dict:
    import jinja2

    renders = 20 if quick else 200
    r = _renderer()
    with _Counter(r.env, "compile") as compiles, _Counter(jinja2.Template, "make_module") as modules:
        for i in range(renders):
            r.render(SOURCE, filename="m.sql", node_name=f"m{i}")
        same_file = compiles.calls
        r.render(SOURCE, filename="other.sql", node_name="o")
        other_file = compiles.calls - same_file
        made = modules.calls
    top = _renderer(top_level_code=True)
    with _Counter(jinja2.Template, "make_module") as fresh:
        for i in range(renders):
            top.render("{{ show() }}", filename=f"m{i}.sql", node_name="m")
    custom_tests = 6 if quick else 60
    figures = {
        "renders": renders,
        "compiles_same_text_and_file": same_file,  # 1: memoised per (text, file)
        "compiles_same_text_other_file": other_file,  # 1: the file is part of the key (error locations)
        "macro_modules_made": made,  # one per macro file, not per render
        "macro_files": len(MACROS),
        "macro_modules_made_with_top_level_code": fresh.calls,  # once per render per file (3 files)
        "custom_schema_tests": custom_tests,
        "custom_schema_test_compiles": _schema_test_compiles(custom_tests),  # 1: one shared text
        **_render_times(renders),
    }
    figures["target"] = {"met": figures["compiles_same_text_and_file"] == 1 and made == len(MACROS)
                         and figures["custom_schema_test_compiles"] == 1}
    return figures
