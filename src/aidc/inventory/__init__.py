"""Discovering what this center has: the local host, its GPUs, virtual ones, a TOML file."""
