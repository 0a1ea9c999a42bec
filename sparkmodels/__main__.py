"""`python -m sparkmodels` runs the CLI."""

from sparkmodels.app.cli import main

main()
