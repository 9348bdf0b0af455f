"""The authorisation matrix's entries for validations (docs/validation.md).

Readers: the project's members, its organisation's admins, the operators, and whoever a
live share names (the world's validations are shared with the center's organisation, so
its reviewer, steward and admin read them). Shares are managed by the validation's
creator (the tenant's member), its organisation's admins and the operators.
"""

from __future__ import annotations

from tests.security.authz_table import SIGNED_IN, TENANT, Rule, rule

V = {"validation_id": "validation"}
# The world shares each tenant's validation with the center's organisation.
READ = rule("member admin reviewer steward center_admin", TENANT, path=V)
MANAGE = rule("member admin center_admin", TENANT, path=V)

VALIDATION_ROUTES: dict[tuple[str, str], Rule] = {
    # Multipart (spec + model): the matrix's JSON body is refused with a 422 naming the
    # field by the roles that may run validations; the others are refused before.
    ("POST", "/v1/validations"): rule("member admin center_admin", body=lambda o: {}),
    ("GET", "/v1/validations"): rule(SIGNED_IN),
    ("GET", "/v1/validations/{validation_id}"): READ,
    ("GET", "/v1/validations/{validation_id}/verify"): READ,
    ("GET", "/v1/validations/{validation_id}/compare"): READ,
    ("GET", "/v1/validations/{validation_id}/report"): READ,
    ("GET", "/v1/validations/{validation_id}/runs/{accelerator}/result"): rule(
        "member admin reviewer steward center_admin",
        TENANT,
        path={"validation_id": "validation", "accelerator": "=cpu"},
    ),
    ("POST", "/v1/validations/{validation_id}/shares"): rule(
        "member admin center_admin", TENANT, path=V, body=lambda o: {"user": "rev1"}
    ),
    ("GET", "/v1/validations/{validation_id}/shares"): MANAGE,
    ("DELETE", "/v1/validations/{validation_id}/shares/{share_id}"): rule(
        "member admin center_admin",
        TENANT,
        path={"validation_id": "validation", "share_id": "share"},
    ),
}
