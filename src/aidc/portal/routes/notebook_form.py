"""The notebook start form's fields, read into the API's own request body."""

from __future__ import annotations

from aidc.schemas_notebooks import NotebookStart
from aidc.services.errors import Invalid

START_FIELDS = ("project", "gpus", "gpu_type", "environment")


def parse_start(values: dict[str, str]) -> NotebookStart:
    try:
        gpus = int(values.get("gpus") or "0")
    except ValueError:
        raise Invalid("gpus must be a whole number", field="gpus") from None
    if not 0 <= gpus <= 64:
        raise Invalid("gpus must be between 0 and 64", field="gpus")
    if not values.get("project"):
        raise Invalid("choose a project", field="project")
    return NotebookStart(
        project=values["project"],
        accelerators=gpus,
        accelerator_type=values.get("gpu_type") or None,
        environment=values.get("environment") or None,
    )
