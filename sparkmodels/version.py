"""The package version (its own module so every stage can name it without importing the API)."""

__version__ = "0.1.0"
# The dbt version whose behaviour sparkmodels follows (require-dbt-version is checked against it).
DBT_VERSION = "1.9.0"
