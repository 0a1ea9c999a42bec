"""Python on Spark: Python models and the project's UDFs."""
