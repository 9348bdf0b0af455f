"""Where dataset bytes live: one fsspec filesystem under a root (local or S3-compatible)."""

from aidc.storage.fs import Corrupt, Storage, storage_from_url

__all__ = ["Corrupt", "Storage", "storage_from_url"]
