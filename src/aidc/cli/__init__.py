"""The `aidc` command line, built on aidc.client."""
