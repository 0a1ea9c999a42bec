"""sparkmodels: dbt-style declarative SQL transformations on Apache Spark.

The Python API is what the CLI calls: `sparkmodels.run(project_dir, select=[...])` etc.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .api import build, clean, compile, debug, load_project, ls, run, seed, test  # noqa: E402
from .errors import SparkModelsError  # noqa: E402

__all__ = ["build", "clean", "compile", "debug", "load_project", "ls", "run", "seed", "test", "SparkModelsError",
           "__version__"]
