"""`python -m aidc` is the `aidc` command."""

from aidc.cli.main import main

main()
