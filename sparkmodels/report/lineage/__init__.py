"""Lineage: column lineage from compiled SQL (sqlglot) and the lineage command's trees."""
