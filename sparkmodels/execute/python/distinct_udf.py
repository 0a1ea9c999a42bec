"""The default row UDF's worker side: call the user's function once per distinct input of a batch.

A deterministic row UDF runs as a scalar Arrow UDF (pyspark's ``arrow_udf``): for each Arrow batch
the argument columns are dictionary-encoded in C, the function is called once per distinct argument
tuple (or not at all when this task already saw the tuple, see ``MEMO_LIMIT``), and the results are
spread back to the rows with one Arrow ``take``. Inputs and results go through the same converters
pyspark's Arrow row UDF uses, so the function sees the same Python values (None for null, Row for a
struct, ...) and may return the same things (tuples for structs, lists for arrays). Columns Arrow
cannot dictionary-encode (arrays, maps, structs) fall back to one call per row.

Imported by Spark's Python workers when they unpickle a UDF: pyarrow/numpy/pyspark are imported
inside functions only, so the module itself stays import-light.
"""

from __future__ import annotations

MEMO_LIMIT = 65_536  # results kept per task across batches; cleared when full (bounded memory)


class DistinctCalls:
    """A picklable callable for ``arrow_udf``: pa.Array arguments in, one pa.Array of results out."""

    def __init__(self, func, return_type):
        self.func = func
        self.return_type = return_type  # a pyspark DataType, parsed on the driver
        self.__name__ = getattr(func, "__name__", "udf")
        self.__doc__ = getattr(func, "__doc__", None)
        self._state = None

    def __getstate__(self):  # ship function and type only; converters are rebuilt on the worker
        return {"func": self.func, "return_type": self.return_type, "__name__": self.__name__,
                "__doc__": self.__doc__, "_state": None}

    def __call__(self, *args, **kwargs):
        import pyarrow as pa

        cols = [*args, *kwargs.values()]
        names = list(kwargs)
        n_pos = len(args)
        cols = [c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in cols]
        state = self._state or self._prepare()
        codes, distinct = _distinct(cols)
        if codes is None:  # a column Arrow cannot hash: one call per row
            values = [_to_python(c, state) for c in cols]
            results = [self._call(row, n_pos, names) for row in zip(*values, strict=True)]
            return _to_arrow(results, state)
        values = [_to_python(c, state) for c in distinct]
        memo = state["memo"] if all(_memo_safe(c.type) for c in cols) else None
        results = []
        for row in zip(*values, strict=True):
            if memo is None:
                results.append(self._call(row, n_pos, names))
                continue
            try:
                hit = memo.get(row, _MISS)
            except TypeError:  # an unhashable argument value: no memo for this row
                results.append(self._call(row, n_pos, names))
                continue
            if hit is _MISS:
                if len(memo) >= MEMO_LIMIT:
                    memo.clear()
                hit = memo[row] = self._call(row, n_pos, names)
            results.append(hit)
        return _to_arrow(results, state).take(codes)

    def _call(self, row, n_pos, names):
        if not names:
            return self.func(*row)
        return self.func(*row[:n_pos], **dict(zip(names, row[n_pos:], strict=True)))

    def _prepare(self) -> dict:
        from pyspark.sql.conversion import LocalDataToArrowConversion
        from pyspark.sql.pandas.types import to_arrow_type

        self._state = {
            "memo": {},
            "inputs": {},  # Arrow type -> Arrow-to-Python converter
            "arrow_type": to_arrow_type(self.return_type, timezone="UTC"),
            "convert": LocalDataToArrowConversion._create_converter(self.return_type, none_on_identity=True),
        }
        return self._state


_MISS = object()


def _distinct(cols):
    """(codes, distinct columns): row i has the argument tuple at position codes[i] of the distinct
    columns, or (None, None) when a column type cannot be dictionary-encoded."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = []
    for col in cols:
        try:
            # nulls become a dictionary entry of their own: the function is called with None once
            encoded.append(pc.dictionary_encode(col, null_encoding="encode"))
        except (pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return None, None
    if len(encoded) == 1:
        return encoded[0].indices, [encoded[0].dictionary]
    # several arguments: combine the per-column codes into one int64 code per row, compacting to
    # dense codes after each column so the product never overflows
    code = np.zeros(len(cols[0]), dtype=np.int64)
    for enc in encoded:
        code = code * len(enc.dictionary) + enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        _, first, code = np.unique(code, return_index=True, return_inverse=True)
    first = pa.array(first)
    return pa.array(code.astype(np.int32)), [col.take(first) for col in cols]


def _to_python(col, state: dict) -> list:
    """An Arrow column as the Python values pyspark's Arrow row UDF passes for its Spark type."""
    from pyspark.sql.conversion import ArrowTableToRowsConversion

    if col.type not in state["inputs"]:
        from pyspark.sql.pandas.types import from_arrow_type

        state["inputs"][col.type] = ArrowTableToRowsConversion._create_converter(
            from_arrow_type(col.type), none_on_identity=True)
    conv = state["inputs"][col.type]
    values = ArrowTableToRowsConversion._to_pylist(col)
    return values if conv is None else [conv(v) for v in values]


def _to_arrow(results: list, state: dict):
    """Results as an Arrow array of the declared type, converted as pyspark's Arrow row UDF does."""
    import pyarrow as pa

    conv = state["convert"]
    converted = results if conv is None else [conv(r) for r in results]
    try:
        return pa.array(converted, type=state["arrow_type"])
    except pa.lib.ArrowInvalid:
        return pa.array(converted).cast(target_type=state["arrow_type"], safe=True)


def _memo_safe(arrow_type) -> bool:
    """Python equality matches Arrow's distinctness for this type (not so for floats: 0.0 == -0.0)."""
    import pyarrow as pa

    return not (pa.types.is_floating(arrow_type) or pa.types.is_nested(arrow_type))


__all__ = ["DistinctCalls", "MEMO_LIMIT"]
