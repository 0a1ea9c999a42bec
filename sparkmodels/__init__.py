"""sparkmodels: dbt-style declarative SQL transformations on Apache Spark.

The Python API is what the CLI calls: `sparkmodels.run(project_dir, select=[...])` etc.
"""

from __future__ import annotations

from sparkmodels.app.api import (  # noqa: E402
    build,
    clean,
    compile,
    debug,
    ls,
    run,
    run_operation,
    seed,
    show,
    snapshot,
    test,
)
from sparkmodels.app.project import load_project  # noqa: E402
from sparkmodels.errors import SparkModelsError, UsageError  # noqa: E402
from sparkmodels.plan.options import RunOptions  # noqa: E402
from sparkmodels.version import __version__  # noqa: E402

__all__ = ["build", "clean", "compile", "debug", "load_project", "ls", "run", "run_operation", "seed", "show",
           "snapshot", "test", "RunOptions",
           "SparkModelsError", "UsageError", "__version__"]
