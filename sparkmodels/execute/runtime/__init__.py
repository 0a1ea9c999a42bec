"""Run-time Jinja: models rendered again in the run's session, with Relations, adapter introspection and run_query."""

from sparkmodels.execute.runtime.context import RunContext
from sparkmodels.execute.runtime.table import Table

__all__ = ["RunContext", "Table"]
