"""/v1/me/password and /v1/users/{username}/password: passwords for the web portal's login."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from aidc.api.deps import CenterDep, PrincipalDep
from aidc.schemas import ErrorBody
from aidc.services import passwords

router = APIRouter(tags=["users"])
ERRORS: dict[int | str, dict[str, object]] = {s: {"model": ErrorBody} for s in (401, 403, 404, 422)}


class PasswordSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str
    # Your current password, when you have one (not needed for another user's, as an admin).
    current_password: str | None = None


@router.post("/v1/me/password", status_code=204, responses=ERRORS)
def set_my_password(body: PasswordSet, c: CenterDep, p: PrincipalDep) -> None:
    """Set your own password for the web portal."""
    passwords.set_password(c, p, body.password, current=body.current_password)


@router.post("/v1/users/{username}/password", status_code=204, responses=ERRORS)
def set_user_password(username: str, body: PasswordSet, c: CenterDep, p: PrincipalDep) -> None:
    """Set a user's password (center admins; anyone for themselves)."""
    passwords.set_password(c, p, body.password, username=username, current=body.current_password)
