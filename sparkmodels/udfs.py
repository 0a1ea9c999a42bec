"""The user-facing Python UDF API: the @udf decorator and the map_batches helper (no pyspark at import).

UDF files (``udfs/*.py``) import only this module; sparkmodels loads them at execution time and
registers every decorated function in the SparkSession before any model runs (see pymodels.py),
so SQL models call them by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

ATTR = "__sparkmodels_udf__"
FORMS = ("arrow", "pickle", "pandas")


@dataclass(frozen=True)
class UdfSpec:
    """What the decorator recorded about one function: SQL name, return type and how it runs."""

    name: str
    returns: str  # a Spark DDL type string: "string", "double", "struct<a:int,b:string>"
    form: str  # arrow: row-at-a-time over Arrow batches | pickle: classic row UDF | pandas: Series in/out
    deterministic: bool = True

    @property
    def vectorized(self) -> bool:
        return self.form == "pandas"


def udf(name: str | Callable | None = None, returns: str = "string", *, vectorized: bool = False,
        arrow: bool = True, deterministic: bool = True):
    """Declare a function as a SQL-callable UDF.

    ``@udf("base_id", returns="string")`` takes one value per argument and row and runs
    Arrow-optimised; ``@udf(..., vectorized=True)`` takes and returns pandas Series; ``arrow=False``
    gives the classic pickled row UDF. The decorated function is returned unchanged, so it stays a
    plain Python function that tests can call directly.
    """
    if callable(name):  # bare @udf: the function's own name, returning string
        return udf()(name)
    if not isinstance(returns, str) or not returns.strip():
        raise TypeError("@udf(returns=...) must be a Spark DDL type string such as 'string' or 'double'")
    form = "pandas" if vectorized else ("arrow" if arrow else "pickle")

    def mark(func: Callable) -> Callable:
        spec = UdfSpec(name or func.__name__, returns.strip(), form, deterministic)
        setattr(func, ATTR, spec)
        return func

    return mark


def spec_of(obj) -> UdfSpec | None:
    """The UdfSpec attached to a decorated function, else None."""
    spec = getattr(obj, ATTR, None) if callable(obj) else None
    return spec if isinstance(spec, UdfSpec) else None


def map_batches(df, fn: Callable, schema: str, *, barrier: bool = False):
    """Apply fn(pandas.DataFrame) -> pandas.DataFrame to each batch of each partition of df.

    The modern form of the RDD ``mapPartitions`` batch-inference pattern: Spark hands fn Arrow
    batches as pandas DataFrames (``mapInPandas``), fn returns a frame with the columns of
    ``schema`` (a DDL string such as ``"tripid string, predicted double"``), matched by name.
    """
    if not isinstance(schema, str) or not schema.strip():
        raise TypeError("map_batches(schema=...) must be a DDL string such as 'id string, score double'")
    wanted = _ddl_names(schema)

    def apply(batches):
        for pdf in batches:
            out = fn(pdf)
            missing = [c for c in wanted if c not in getattr(out, "columns", ())]
            if missing:
                got = list(getattr(out, "columns", ())) if hasattr(out, "columns") else type(out).__name__
                raise ValueError(f"{getattr(fn, '__name__', 'fn')}() returned {got}; "
                                 f"the declared schema also needs {missing}")
            yield out[wanted]

    return df.mapInPandas(apply, schema, barrier=barrier) if barrier else df.mapInPandas(apply, schema)


def _ddl_names(schema: str) -> list[str]:
    """Top-level field names of a DDL schema string (handles nested <...> and backquotes)."""
    names, depth, field, quoted = [], 0, "", False
    for ch in schema + ",":
        if ch == "`":
            quoted = not quoted
        elif not quoted and ch in "<(":
            depth += 1
        elif not quoted and ch in ">)":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            text = field.strip()
            if text:
                names.append(_field_name(text))
            field = ""
        else:
            field += ch
    return names


def _field_name(text: str) -> str:
    if text.startswith("`"):
        return text[1:text.index("`", 1)]
    return text.split(":")[0].split()[0]


__all__ = ["udf", "map_batches", "UdfSpec", "spec_of", "FORMS"]
