"""The execute stage: runs a Plan on Spark (runner, materialisations, storage, checks, sessions)."""
