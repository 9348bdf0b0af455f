"""The client's dataset calls: catalog, uploads, downloads, grants, the airlock and the
audit log (``Client`` inherits them; docs/datasets.md)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

from aidc.client_paths import Calls
from aidc.client_paths import q as _q
from aidc.schemas_datasets import (
    AirlockView,
    AuditView,
    DatasetView,
    GrantView,
    ManifestView,
    PreviewView,
    StorageView,
    UploadFileView,
    UploadView,
)


class DatasetCalls(Calls):
    def _download(self, url: str) -> Iterator[bytes]:
        raise NotImplementedError  # Client's

    # -- datasets --------------------------------------------------------------------------

    def create_dataset(self, **fields: Any) -> DatasetView:
        """A new dataset: name, sector, tier, and optionally owner, title, card, licence, tags."""
        return DatasetView.model_validate(self._request("POST", "/v1/datasets", json=fields).json())

    def datasets(self, **filters: str | None) -> list[DatasetView]:
        """The catalog, filtered by q (name/title text), sector, tag, tier."""
        params = {k: v for k, v in filters.items() if v}
        return [
            DatasetView.model_validate(d)
            for d in self._request("GET", "/v1/datasets", params=params).json()
        ]

    def dataset(self, name: str) -> DatasetView:
        return DatasetView.model_validate(self._request("GET", f"/v1/datasets/{_q(name)}").json())

    def start_upload(self, name: str, files: list[dict[str, Any]], note: str = "") -> UploadView:
        r = self._request(
            "POST", f"/v1/datasets/{_q(name)}/uploads", json={"files": files, "note": note}
        )
        return UploadView.model_validate(r.json())

    def upload_status(self, name: str, upload_id: str) -> UploadView:
        r = self._request("GET", f"/v1/datasets/{_q(name)}/uploads/{_q(upload_id)}")
        return UploadView.model_validate(r.json())

    def put_chunk(
        self, name: str, upload_id: str, idx: int, offset: int, data: bytes
    ) -> UploadFileView:
        r = self._request(
            "PUT",
            f"/v1/datasets/{_q(name)}/uploads/{_q(upload_id)}/files/{idx}",
            params={"offset": offset},
            # In pieces: httpcore sends a body with ``buffer = buffer[n:]`` after each
            # partial send, which copies the rest of a 64 MiB chunk again and again.
            content=_pieces(data),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(data))},
            timeout=httpx.Timeout(300.0),
        )
        return UploadFileView.model_validate(r.json())

    def commit_upload(
        self, name: str, upload_id: str, sums: dict[int, str] | None = None
    ) -> UploadView:
        """Commit; ``sums``: file number -> SHA-256 for files declared without one."""
        body = {"files": [{"idx": i, "sha256": h} for i, h in (sums or {}).items()]}
        r = self._request(
            "POST",
            f"/v1/datasets/{_q(name)}/uploads/{_q(upload_id)}/commit",
            json=body,
            timeout=httpx.Timeout(3600.0),
        )
        return UploadView.model_validate(r.json())

    def abort_upload(self, name: str, upload_id: str) -> UploadView:
        r = self._request("DELETE", f"/v1/datasets/{_q(name)}/uploads/{_q(upload_id)}")
        return UploadView.model_validate(r.json())

    def manifest(self, name: str, version: int | None = None) -> ManifestView:
        r = self._request("GET", f"/v1/datasets/{_q(name)}/versions/{version or 'latest'}/manifest")
        return ManifestView.model_validate(r.json())

    def download_file(self, name: str, version: int | None, path: str) -> Iterator[bytes]:
        """A file's bytes as they arrive; raises ClientError when they do not hash to the
        SHA-256 the server announced (X-Aidc-Sha256)."""
        url = f"/v1/datasets/{_q(name)}/versions/{version or 'latest'}/files/{quote(path)}"
        return self._download(url)

    def archive(self, name: str, version: int | None = None) -> Iterator[bytes]:
        return self._download(f"/v1/datasets/{_q(name)}/versions/{version or 'latest'}/archive")

    def preview(self, name: str, version: int | None, path: str, rows: int = 10) -> PreviewView:
        r = self._request(
            "GET",
            f"/v1/datasets/{_q(name)}/versions/{version or 'latest'}/preview",
            params={"path": path, "rows": rows},
        )
        return PreviewView.model_validate(r.json())

    def storage(self, organisation: str | None = None) -> StorageView:
        params = {"organisation": organisation} if organisation else {}
        return StorageView.model_validate(self._request("GET", "/v1/storage", params=params).json())

    def request_grant(self, **fields: Any) -> GrantView:
        """Ask for access: dataset, project (or course), purpose, ends_at (POSIX s), optionally
        starts_at."""
        fields = {k: v for k, v in fields.items() if v is not None}
        return GrantView.model_validate(
            self._request("POST", "/v1/dataset-grants", json=fields).json()
        )

    def grants(self, dataset: str | None = None, state: str | None = None) -> list[GrantView]:
        params = {k: v for k, v in {"dataset": dataset, "state": state}.items() if v}
        r = self._request("GET", "/v1/dataset-grants", params=params)
        return [GrantView.model_validate(g) for g in r.json()]

    def decide_grant(self, grant_id: int, decision: str, reason: str = "") -> GrantView:
        """decision: approve, reject or revoke (data stewards)."""
        r = self._request(
            "POST", f"/v1/dataset-grants/{grant_id}/{decision}", json={"reason": reason}
        )
        return GrantView.model_validate(r.json())

    def airlock(self, state: str | None = None) -> list[AirlockView]:
        params = {"state": state} if state else {}
        return [
            AirlockView.model_validate(a)
            for a in self._request("GET", "/v1/airlock", params=params).json()
        ]

    def airlock_output(self, job_id: str) -> AirlockView:
        return AirlockView.model_validate(self._request("GET", f"/v1/airlock/{_q(job_id)}").json())

    def decide_output(self, job_id: str, decision: str, reason: str = "") -> AirlockView:
        """decision: release or reject (data stewards)."""
        r = self._request("POST", f"/v1/airlock/{_q(job_id)}/{decision}", json={"reason": reason})
        return AirlockView.model_validate(r.json())

    def download_output(self, job_id: str, path: str) -> Iterator[bytes]:
        return self._download(f"/v1/airlock/{_q(job_id)}/files/{quote(path)}")

    def dataset_audit(self, **filters: Any) -> list[AuditView]:
        """The dataset audit log: dataset, actor, action, project, outcome, since, until, limit."""
        params = {k: v for k, v in filters.items() if v is not None}
        return [
            AuditView.model_validate(a)
            for a in self._request("GET", "/v1/audit/datasets", params=params).json()
        ]

    def dataset_audit_csv(self, **filters: Any) -> str:
        params = {k: v for k, v in filters.items() if v is not None}
        return self._request("GET", "/v1/audit/datasets", params={**params, "format": "csv"}).text


SEND_PIECE = 1024 * 1024


def _pieces(data: bytes) -> Iterator[memoryview]:
    view = memoryview(data)
    for at in range(0, len(view), SEND_PIECE):
        yield view[at : at + SEND_PIECE]
