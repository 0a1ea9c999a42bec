"""Nodes rendered again when they run: the ones whose template (or a macro it calls) needs the warehouse.

A model, snapshot or analysis marked at load (`Node.runtime_render`: it reads `execute` or calls
run_query, statement or adapter introspection) is rendered here once its upstream relations are
queryable, in the run's session, with a RunContext as the render's backend; then compiled as any
model (ephemeral inputs inlined as CTEs). Both of an incremental model's renders are made again; a
snapshot's block body and a data test's template (dbt_utils.equality) come from
Node.runtime_template. The project's Renderer is the one that loaded the manifest
(Manifest.renderer) and renders one template at a time (the runner's threads take turns).
A microbatch model keeps its load-time SQL: its per-batch filters are placed on the placeholders.
"""

from __future__ import annotations

import threading

from sparkmodels.execute.runtime.context import RunContext
from sparkmodels.plan.compiler import CompiledNode, Compiler, identifier
from sparkmodels.project.config import ProjectConfig
from sparkmodels.project.frozen import thaw
from sparkmodels.project.manifest import Manifest, Node
from sparkmodels.project.render.introspect import Relation
from sparkmodels.project.testnodes import with_limit


class ModelRenderer:
    """Run-time renders of one run's models."""

    def __init__(self, engine, manifest: Manifest, config: ProjectConfig, *, selected=(), context=None, log=None,
                 which: str = "run"):
        self.config = config
        self.manifest = manifest
        self.context = context or RunContext(engine, manifest, config, engine.kinds, selected=selected, log=log,
                                             which=which)
        self.compiler = Compiler(manifest, engine.kinds)
        self._renderer = None
        self._lock = threading.Lock()

    def renderer(self):
        if self._renderer is None:  # the load's own (macros compiled), else a new one
            from sparkmodels.project.loader import project_renderer

            self._renderer = self.manifest.renderer or project_renderer(self.config)
        return self._renderer

    def needs(self, node: Node) -> bool:
        return node.runtime_render and node.language == "sql" and node.config.get("incremental_strategy") != "microbatch"

    def _vars(self, node: Node):
        for project in (self.config, *self.config.packages):
            if project.name == node.package:
                return project.vars
        return self.config.vars

    def _test(self, node: Node, extra: dict) -> Node:
        """A data test rendered now: a generic test's one-line template again, else the singular test's file."""
        renderer = self.renderer()
        if node.runtime_template is not None:
            result = renderer.render(node.runtime_template["template"], filename=node.path, node_name=node.name,
                                     extra={**thaw(node.runtime_template["extra"]), **extra})
            text, line_map = result.text.strip() + "\n", ()
        else:
            result = renderer.render(node.raw_code, filename=node.path, node_name=node.name, extra=extra)
            text, line_map = result.text, result.line_map
        text, line_map = with_limit(text, line_map, node.config.get("limit"))
        return node.evolve(calls=(), rendered=text, line_map=line_map)

    def compiled(self, node: Node, schema: str) -> CompiledNode:
        """The node's SQL rendered now, in the session (its upstream relations must be queryable)."""
        if node.resource_type == "test":
            with self._lock:
                return self.compiler.compile_node(self._test(node, self.context.extra(node)))
        # an analysis is rendered without `this`, as at load (it names no relation of its own)
        this = None if node.resource_type == "analysis" else Relation(
            identifier(node), schema, type=self.context.relation_of(node, ensure=False).type)
        template = node.runtime_template["template"] if node.runtime_template is not None else node.raw_code
        extra = self.context.extra(node)
        with self._lock:
            renderer = self.renderer()
            renderer.vars = self._vars(node)
            try:
                first = renderer.render(template, filename=node.path, node_name=node.name, this=this,
                                        package=node.package, extra=extra)
                second = None
                if node.rendered_incremental is not None or self.context.kinds.of(node).incremental:
                    second = renderer.render(template, filename=node.path, node_name=node.name, this=this,
                                             package=node.package, extra={**extra, "is_incremental": lambda: True})
            finally:
                renderer.vars = self.config.vars
        again = node.evolve(calls=(), rendered=first.text, line_map=first.line_map,
                            rendered_incremental=second.text if second is not None else None,
                            line_map_incremental=second.line_map if second is not None else ())
        return self.compiler.compile_node(again)
