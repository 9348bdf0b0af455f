"""Path and query parameter types shared by routes.

Ids are 64-bit in every database: a larger number would overflow the driver (a 500), so the
schema says so and such a request gets a 422 naming the parameter.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

MAX_DB_INT = 2**63 - 1

RowId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="The object's id.")]
RowIdQuery = Annotated[int | None, Query(ge=1, le=MAX_DB_INT)]
