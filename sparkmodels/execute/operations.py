"""`run-operation`: one macro called with arguments in a run's session, with the run-time context.

dbt's `run-operation MACRO --args '{yaml}'`: the macro (the root project's, a package's as
`pkg.macro`, or any package's by dbt's name resolution) is called with the arguments as keywords;
run_query/ref/source work in the session (execute/runtime/), `log(msg, info=True)` lines are
printed as they happen, and the macro's `return()` value is handed back. An error inside the macro
is located at the macro file's line.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sparkmodels.errors import CompilationError, SparkModelsError, did_you_mean
from sparkmodels.execute.runtime import RunContext
from sparkmodels.project.config import ProjectConfig
from sparkmodels.project.kinds import Kinds
from sparkmodels.project.manifest import Manifest

_NAME = re.compile(r"^(?:([A-Za-z_]\w*)\.)?([A-Za-z_]\w*)$")
CALLER = "<run-operation>"  # the one-line template that calls the macro


@dataclass(frozen=True)
class OperationResult:
    macro: str
    value: Any  # what the macro returned (`{% do return(x) %}`), else its rendered text
    logs: tuple[str, ...]  # every log() line, info or not


def run_operation(engine, manifest: Manifest, config: ProjectConfig, kinds: Kinds, macro: str,
                  args: Mapping[str, Any], *, log: Callable[[str, bool], None] | None = None,
                  renderer=None) -> OperationResult:
    """Call `macro` (`name` or `package.name`) with `args` as keywords in the engine's session."""
    from sparkmodels.project.loader import project_renderer

    m = _NAME.match(macro)
    if m is None:
        raise CompilationError(f"'{macro}' is not a macro name (a name, or package.name).")
    package, name = m.groups()
    renderer = renderer or project_renderer(config)
    if not renderer.has_macro(name, package):
        where = f"package '{package}'" if package else "the project or its packages"
        raise CompilationError(f"no macro named '{name}' in {where}." + did_you_mean(name, renderer.macro_names))
    logs: list[str] = []

    def keep(text: str, info: bool) -> None:
        logs.append(text)
        if log is not None:
            log(text, info)

    out: list = []
    context = RunContext(engine, manifest, config, kinds, log=keep)
    call = f"{package}.{name}" if package else name
    try:
        text = renderer.render(f"{{% do __sm_out.append({call}(**__sm_args)) %}}", filename=CALLER,
                               node_name=macro, package=config.name,
                               extra={**context.extra(), "__sm_out": out, "__sm_args": dict(args)}).text
    except SparkModelsError as exc:
        raise _in_macro(exc, exc, set(renderer.macro_packages)) from None
    value = out[0] if out else text
    return OperationResult(macro, value, tuple(logs))


def _in_macro(exc: SparkModelsError, original: BaseException, macro_files: set[str]) -> SparkModelsError:
    """An error the renderer placed at the calling one-liner, moved to the innermost macro file's line."""
    if exc.path not in (None, CALLER):
        return exc
    found = None
    for frame in traceback.extract_tb(original.__traceback__):
        if frame.filename in macro_files:
            found = (frame.filename, frame.lineno)
    if found is not None:
        exc.path, exc.line = found
    elif exc.path == CALLER:
        exc.path, exc.line = None, None
    return exc
