"""Which nodes a command acts on: --select/--exclude with --selector and --state, the plan of a selection, --defer's warehouse."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sparkmodels.app.project import Project
from sparkmodels.errors import SelectionError
from sparkmodels.plan.steps import Plan, build_plan
from sparkmodels.select.selector import select as select_nodes

Selection = Sequence[str] | str | None


def selection_context(p: Project, select: Selection, *, state: str | Path | None = None,
                      selector: str | None = None, previous=None) -> tuple[Selection, dict, tuple[str, ...]]:
    """--state and --selector as selector-method context: (select, context, warnings)."""
    from sparkmodels.select.selectors_yaml import load_selectors, resolve_selector, selector_matcher
    from sparkmodels.select.state import load_state, selector_context

    if previous is None and state is not None:
        previous = load_state(state)
    context = selector_context(p.manifest, previous)
    selectors = load_selectors(p.config.root)
    warnings: tuple[str, ...] = ()
    if selector is None and not select and selectors.default:
        selector = selectors.default  # dbt: a selector marked `default: true` applies without --select
    if selector is not None:
        if select:
            raise SelectionError("use either --select or --selector, not both.")
        _, warnings = resolve_selector(selectors, selector, p.manifest, p.graph, context)
        context["selector"] = selector_matcher(selectors, p.manifest, p.graph, context)
        select = [f"selector:{selector}"]
    elif selectors.definitions:
        context["selector"] = selector_matcher(selectors, p.manifest, p.graph, context)
    return select, context, warnings


def plan_for(p: Project, select: Selection, exclude: Selection, resource_types: Sequence[str],
             indirect: str = "eager", context: dict | None = None, warnings: Sequence[str] = ()) -> Plan:
    sel = select_nodes(p.manifest, p.graph, select, exclude, resource_types=resource_types, indirect=indirect,
                       context=context)
    return build_plan(p.manifest, p.graph, sel.selected, compiler=p.compiler,
                      warnings=(*p.manifest.warnings, *warnings, *sel.warnings))


def defer_location(previous, p: Project):
    from sparkmodels.execute.storage import open_warehouse

    if not previous.warehouse:
        raise SelectionError(f"--defer: the manifest in '{previous.path}' does not record its warehouse.",
                             hint="Re-run the production job with this version of sparkmodels to refresh it.")
    warehouse = open_warehouse(previous.warehouse, previous.warehouse_storage, target=f"--state {previous.path}")
    return warehouse, previous.schema or p.config.target.schema
