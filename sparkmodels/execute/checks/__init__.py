"""Data tests and unit tests at run time: shared scans, driver-side unique counts, unit tests."""
