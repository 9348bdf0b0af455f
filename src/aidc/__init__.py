"""aidc: the software that runs a shared AI data center."""

__version__ = "0.1.0"
