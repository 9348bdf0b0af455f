"""Where a center keeps dataset bytes and the storage rules it applies to them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aidc.services.center import Center
from aidc.services.errors import Invalid
from aidc.settings import Settings
from aidc.storage import Storage, storage_from_url

GB = 10**9  # storage grants are decimal gigabytes, as on a bill


@dataclass
class DatasetPlace:
    storage: Storage
    # Storage of an organisation without an active allocation, in GB.
    default_org_storage_gb: float = 10.0
    # Local copies of datasets read from an object store, for engines that link files.
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".aidc" / "dataset-cache")
    # Uploads not committed this long after they began are dropped (datasets_expiry).
    upload_expire_s: float = 24 * 3600.0


def place(center: Center) -> DatasetPlace:
    if center.datasets is None:
        raise Invalid("this center has no dataset storage configured", field="dataset")
    return center.datasets


def place_from_settings(settings: Settings) -> DatasetPlace:
    url = settings.datasets_url or str(settings.home / "datasets")
    options: dict[str, object] = {}
    if url.startswith("s3://"):
        # Several processes write the same prefixes: never trust a cached listing.
        options["use_listings_cache"] = False
        if settings.datasets_s3_endpoint:
            options["endpoint_url"] = settings.datasets_s3_endpoint
    return DatasetPlace(
        storage=storage_from_url(url, **options),
        default_org_storage_gb=settings.default_org_storage_gb,
        cache_dir=settings.dataset_cache_dir or settings.home / "dataset-cache",
        upload_expire_s=settings.upload_expire_s,
    )
