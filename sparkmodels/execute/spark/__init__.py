"""The Spark side of a run: sessions, the warm server, the JVM class archive, job metrics."""
