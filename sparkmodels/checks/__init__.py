"""Data tests and unit tests: test nodes from YAML and files, generic tests, batched and unit execution."""
