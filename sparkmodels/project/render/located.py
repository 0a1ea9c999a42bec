"""A template's render with its errors located: every failure in user Jinja as a SparkModelsError at a file and line.

Jinja rewrites tracebacks to template source lines, so the innermost frame that belongs to a
template (the model's file or a macro file) is where an error happened; a run-time call's own error
(run_query's SQL) is placed at the calling line, with the model's line in the hint when a macro sent
it. Messages never show the invisible line markers (lines.py) or ref placeholders (recorder.py).
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterable, Mapping

import jinja2

from sparkmodels.errors import CompilationError, SparkModelsError
from sparkmodels.project.render.lines import _MARK_CLOSE, _MARK_OPEN
from sparkmodels.project.render.recorder import PH_CLOSE, PH_OPEN, MacroReturn

_MARKER_CHAR = re.compile(f"unexpected char '(?:{_MARK_OPEN}|{_MARK_CLOSE}|{PH_OPEN}|{PH_CLOSE}|"
                          r"\\ue00[0-3])' at \d+")
_INTERNAL = re.compile("[\ue000-\ue003]|\\\\ue00[0-3]")


def jinja_message(message: str | None) -> str:
    """Jinja's message without the invisible line markers add_line_markers put in the source: Jinja
    meets one where a tag left open runs into the next line."""
    message = _MARKER_CHAR.sub("unexpected end of line inside a tag (is a `{{`, `{%`, bracket or quote "
                               "left unclosed?)", message or "invalid syntax")
    return _INTERNAL.sub("", message).rstrip(".")


def syntax_error(exc, filename: str) -> CompilationError:
    """A Jinja syntax error as a located CompilationError."""
    return CompilationError(f"Jinja syntax error: {jinja_message(exc.message)}.", path=exc.filename or filename,
                            line=exc.lineno)


def render_template(template, ctx: Mapping, *, filename: str, node_name: str, macro_files: Iterable[str]) -> str:
    """template.render(ctx), a top-level `return(...)` as the output, errors located at their template line."""
    try:
        return template.render(ctx)
    except MacroReturn as ret:
        return str(ret.value)
    except CompilationError as exc:
        raise exc.located(node=node_name, path=filename, line=template_line(exc, filename)) from None
    except SparkModelsError as exc:  # a run-time call's own error (run_query's SQL): at the calling line
        path, line = template_frame(exc, filename, macro_files)
        if exc.path is None:
            exc.path, exc.line = path, line
            called = template_line(exc, filename)
            if path != filename and called:  # in a macro: say where the model called it
                exc.hint = " ".join(x for x in (exc.hint, f"Called from {filename}:{called}.") if x)
        raise exc.located(node=node_name) from None
    except jinja2.TemplateSyntaxError as exc:
        raise CompilationError(f"Jinja syntax error: {jinja_message(exc.message)}.", node=node_name,
                               path=exc.filename or filename, line=exc.lineno) from None
    except Exception as exc:  # noqa: BLE001 - any error in user Jinja becomes a located error
        path, line = template_frame(exc, filename, macro_files)
        raise CompilationError(describe(exc), node=node_name, path=path, line=line) from None


def describe(exc: Exception) -> str:
    if isinstance(exc, jinja2.UndefinedError):
        return f"{exc.message}." if exc.message else "undefined variable."
    return f"{type(exc).__name__}: {exc}"


def template_frame(exc: BaseException, filename: str, macro_files: Iterable[str]) -> tuple[str, int | None]:
    """Innermost traceback frame that belongs to a template (Jinja rewrites them to source lines)."""
    known = {filename, *macro_files}
    found = (filename, None)
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename in known:
            found = (frame.filename, frame.lineno)
    return found


def template_line(exc: BaseException, filename: str) -> int | None:
    return template_frame(exc, filename, ())[1]
