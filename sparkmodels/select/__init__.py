"""The select stage: the dependency graph, dbt's selector grammar, YAML selectors and --state comparison."""
