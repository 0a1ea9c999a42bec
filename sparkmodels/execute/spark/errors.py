"""Recognising Spark's exceptions (classic, Py4J, Spark Connect) by class name.

By name, not isinstance: the classes live in pyspark/py4j modules that differ between classic and
Connect sessions and between Spark versions, and a check must not import them.
"""

from __future__ import annotations

SPARK_ERROR_CLASSES = frozenset({"PySparkException", "Py4JJavaError", "Py4JError", "CapturedException"})


def is_spark_error(exc: BaseException) -> bool:
    """Whether exc (or a base class of it) is one of Spark's exceptions."""
    return any(c.__name__ in SPARK_ERROR_CLASSES for c in type(exc).__mro__)
