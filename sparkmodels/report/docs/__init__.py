"""Project documentation: the catalog (Spark schemas), the static site under target/docs/, and serving it."""
