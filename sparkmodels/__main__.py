"""`python -m sparkmodels` runs the CLI."""

from .cli import main

main()
