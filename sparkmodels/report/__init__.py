"""The report stage: console output, artifacts under target/, redaction, the docs site and lineage."""
