"""The project stage: config, YAML, loading files into an immutable Manifest, Jinja rendering (no Spark)."""
