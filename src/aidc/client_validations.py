"""The client's validation calls (``Client`` inherits them):

v = c.validate("model.onnx", project="hanbit-vision", dataset="eval-set@2",
               accelerators=["a100", "cpu"], targets=["p99<=20ms", "top1>=0.76"])
v = c.wait_validation(v.id)
open("report.pdf", "wb").write(c.validation_report(v.id, "pdf"))
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aidc.client_paths import Calls
from aidc.schemas_validation import CompareView, ShareView, ValidationView, VerifyView


class ValidationCalls(Calls):
    def validate(
        self,
        model: str | Path,
        *,
        project: str,
        dataset: str,
        accelerators: list[str],
        metric: str = "top1",
        scenarios: list[str] | None = None,
        targets: list[str] | None = None,
        name: str | None = None,
        model_name: str | None = None,
    ) -> ValidationView:
        """Send the model (its SHA-256 with it, checked on arrival) and start the runs."""
        path = Path(model)
        data = path.read_bytes()
        spec: dict[str, Any] = {
            "project": project,
            "dataset": dataset,
            "metric": metric,
            "accelerators": accelerators,
            "targets": targets or [],
            "model_sha256": hashlib.sha256(data).hexdigest(),
        }
        if scenarios:
            spec["scenarios"] = scenarios
        if name:
            spec["name"] = name
        if model_name:
            spec["model_name"] = model_name
        r = self._request(
            "POST",
            "/v1/validations",
            data={"spec": json.dumps(spec)},
            files={"model": (path.name, data, "application/octet-stream")},
        )
        return ValidationView.model_validate(r.json())

    def validations(
        self, project: str | None = None, model: str | None = None
    ) -> list[ValidationView]:
        params = {k: v for k, v in (("project", project), ("model", model)) if v}
        r = self._request("GET", "/v1/validations", params=params)
        return [ValidationView.model_validate(x) for x in r.json()]

    def validation(self, validation_id: str) -> ValidationView:
        r = self._request("GET", f"/v1/validations/{quote(validation_id, safe='')}")
        return ValidationView.model_validate(r.json())

    def wait_validation(
        self, validation_id: str, timeout: float | None = None, poll_s: float = 0.5
    ) -> ValidationView:
        """Poll until every run has its result (or failed)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            v = self.validation(validation_id)
            if v.state == "done" or (deadline is not None and time.monotonic() > deadline):
                return v
            time.sleep(poll_s)

    def verify_validation(self, validation_id: str) -> VerifyView:
        r = self._request("GET", f"/v1/validations/{quote(validation_id, safe='')}/verify")
        return VerifyView.model_validate(r.json())

    def validation_result(self, validation_id: str, accelerator: str) -> tuple[str, str]:
        """A run's stored result (canonical JSON text) and the integrity the server found."""
        vid, acc = quote(validation_id, safe=""), quote(accelerator, safe="")
        r = self._request("GET", f"/v1/validations/{vid}/runs/{acc}/result")
        return r.text, r.headers.get("X-Result-Integrity", "")

    def compare_validation(self, validation_id: str) -> CompareView:
        r = self._request("GET", f"/v1/validations/{quote(validation_id, safe='')}/compare")
        return CompareView.model_validate(r.json())

    def validation_report(self, validation_id: str, format: str = "html") -> bytes:
        r = self._request(
            "GET",
            f"/v1/validations/{quote(validation_id, safe='')}/report",
            params={"format": format},
        )
        return r.content

    def share_validation(
        self, validation_id: str, organisation: str | None = None, user: str | None = None
    ) -> ShareView:
        r = self._request(
            "POST",
            f"/v1/validations/{quote(validation_id, safe='')}/shares",
            json={"organisation": organisation, "user": user},
        )
        return ShareView.model_validate(r.json())

    def validation_shares(self, validation_id: str) -> list[ShareView]:
        r = self._request("GET", f"/v1/validations/{quote(validation_id, safe='')}/shares")
        return [ShareView.model_validate(x) for x in r.json()]

    def revoke_validation_share(self, validation_id: str, share_id: str) -> ShareView:
        vid, sid = quote(validation_id, safe=""), quote(share_id, safe="")
        r = self._request("DELETE", f"/v1/validations/{vid}/shares/{sid}")
        return ShareView.model_validate(r.json())
