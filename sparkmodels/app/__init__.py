"""The application layer: the Python API and the CLI on top of every stage."""
