"""/v1/policy: the scheduling policy; anyone signed in reads it, center admins set it."""

from __future__ import annotations

from fastapi import APIRouter

from aidc.api.deps import CenterDep, PrincipalDep
from aidc.schemas import ErrorBody, PolicyUpdate, PolicyView
from aidc.services import policy

router = APIRouter(prefix="/v1/policy", tags=["policy"])
ERRORS: dict[int | str, dict[str, object]] = {s: {"model": ErrorBody} for s in (401, 403, 422)}


@router.get("", responses=ERRORS)
def show(c: CenterDep, p: PrincipalDep) -> PolicyView:
    """The policy in effect: the TOML as set and every key after merging over its preset."""
    return policy.show(c, p)


@router.put("", responses=ERRORS)
def set_policy(body: PolicyUpdate, c: CenterDep, p: PrincipalDep) -> PolicyView:
    """Replace the policy (center admins): ``{"toml": "..."}`` or ``{"preset": "sjf"}``.
    It is checked before it is stored, and the scheduler uses it from its next pass."""
    if body.preset is not None:
        return policy.set_preset(c, p, body.preset)
    assert body.toml is not None  # PolicyUpdate holds exactly one
    return policy.set_policy(c, p, body.toml)
