"""The authorisation matrix's entries for datasets (catalog, uploads, grants, airlock,
audit), notebooks and their proxy, environments and passwords (see ``authz_table``)."""

from __future__ import annotations

from tests.security.authz_table import SIGNED_IN, TENANT, Rule, rule

# Who changes a dataset: its owning organisation's admins and members, and the operators.
MANAGE = "member admin center_admin"
DATASET = {"name": "dataset"}
UPLOAD = {"name": "dataset", "upload_id": "upload_id"}
VERSION = {"name": "dataset", "version": "=1"}
SESSION = {"session_id": "session_id"}
ENV = {"name": "environment"}
STEWARDS = "steward center_admin"
NO_OUTPUTS = {"job_id": "airlock_job"}
PASSWORD = {"password": "a long new password 42"}
# Owner, its organisation's admins and the operators see and stop a session (only the
# owner restarts it).
SEE_SESSION = rule("member admin center_admin", TENANT, path=SESSION)


def _new_dataset(o: dict[str, str]) -> dict[str, str]:
    return {"name": f"new-{o['dataset']}", "owner": o["org"], "sector": "public", "tier": "public"}


def _grant(o: dict[str, str]) -> dict[str, object]:
    return {
        "dataset": o["grant_dataset"],
        "project": o["project"],
        "purpose": "a study",
        "ends_at": 1_850_000_000.0,
    }


# The catalog is open: another tenant's dataset is no secret, so its upload routes deny
# other tenants with 403 (``public``); bytes of a public dataset are for every user.
DATA_ROUTES: dict[tuple[str, str], Rule] = {
    ("POST", "/v1/datasets"): rule(MANAGE, TENANT, body=_new_dataset),
    ("GET", "/v1/datasets"): rule(SIGNED_IN, public=True),
    ("GET", "/v1/datasets/{name}"): rule(SIGNED_IN, TENANT, path=DATASET, any_tenant=True),
    ("POST", "/v1/datasets/{name}/uploads"): rule(
        MANAGE,
        TENANT,
        path=DATASET,
        public=True,
        body=lambda o: {"files": [{"path": "new.csv", "size": 1}]},
    ),
    ("GET", "/v1/datasets/{name}/uploads/{upload_id}"): rule(
        MANAGE, TENANT, path=UPLOAD, public=True
    ),
    ("PUT", "/v1/datasets/{name}/uploads/{upload_id}/files/{idx}"): rule(
        MANAGE,
        TENANT,
        path=UPLOAD | {"idx": "=0"},
        query={"offset": "=0"},
        body=lambda o: "x",
        public=True,
    ),
    # Nothing has arrived: the commit answers 409/422 to those let through.
    ("POST", "/v1/datasets/{name}/uploads/{upload_id}/commit"): rule(
        MANAGE, TENANT, path=UPLOAD, public=True
    ),
    ("DELETE", "/v1/datasets/{name}/uploads/{upload_id}"): rule(
        MANAGE, TENANT, path=UPLOAD, public=True
    ),
    ("GET", "/v1/datasets/{name}/versions/{version}/manifest"): rule(
        SIGNED_IN, TENANT, path=VERSION, any_tenant=True
    ),
    ("GET", "/v1/datasets/{name}/versions/{version}/files/{path:path}"): rule(
        SIGNED_IN, TENANT, path=VERSION | {"path:path": "=data.csv"}, any_tenant=True
    ),
    ("GET", "/v1/datasets/{name}/versions/{version}/archive"): rule(
        SIGNED_IN, TENANT, path=VERSION, any_tenant=True
    ),
    ("GET", "/v1/datasets/{name}/versions/{version}/preview"): rule(
        SIGNED_IN, TENANT, path=VERSION, query={"path:path": "=data.csv"}, any_tenant=True
    ),
    ("GET", "/v1/storage"): rule(MANAGE, TENANT, query={"organisation": "org"}),
    # grants: a project's people ask, data stewards decide
    ("POST", "/v1/dataset-grants"): rule(MANAGE, TENANT, body=_grant),
    ("GET", "/v1/dataset-grants"): rule(SIGNED_IN),
    ("POST", "/v1/dataset-grants/{grant_id}/{decision}"): rule(
        STEWARDS,
        TENANT,
        path={"grant_id": "grant_id", "decision": "=approve"},
        body=lambda o: {"reason": "ok"},
    ),
    # The airlock: the world has no held outputs (a job that read restricted data and
    # finished; tests/integration/test_datasets_governance.py covers those), so these
    # check who gets as far as "not found".
    ("GET", "/v1/airlock"): rule(SIGNED_IN),
    ("GET", "/v1/airlock/{job_id}"): rule(SIGNED_IN, path=NO_OUTPUTS, absent=True),
    ("POST", "/v1/airlock/{job_id}/{decision}"): rule(
        STEWARDS,
        path=NO_OUTPUTS | {"decision": "=release"},
        body=lambda o: {"reason": "ok"},
        absent=True,
    ),
    # Outputs that are not the caller's to download, and ids that were only guessed, are
    # refused alike (403, audited): for an id without outputs, every caller is refused.
    ("GET", "/v1/airlock/{job_id}/files/{path:path}"): rule(
        "", path=NO_OUTPUTS | {"path:path": "=out.txt"}
    ),
    ("GET", "/v1/audit/datasets"): rule(STEWARDS),
}

_PROXY = rule("member", TENANT, path=SESSION | {"path:path": "=lab"}, downstream=(503,))

NOTEBOOK_ROUTES: dict[tuple[str, str], Rule] = {
    ("POST", "/v1/notebooks"): rule(
        "member admin center_admin",
        TENANT,
        body=lambda o: {"project": o["project"]},
        deny_status=(422,),  # another tenant's project: worded as one that does not exist
    ),
    ("GET", "/v1/notebooks"): rule(SIGNED_IN),
    ("GET", "/v1/notebooks/{session_id}"): SEE_SESSION,
    ("POST", "/v1/notebooks/{session_id}/stop"): SEE_SESSION,
    ("POST", "/v1/notebooks/{session_id}/restart"): rule("member", TENANT, path=SESSION),
    # A login link is for who may enter: the owner (the session is not shared).
    ("POST", "/v1/notebooks/{session_id}/login"): rule("member", TENANT, path=SESSION),
    # The bare session URL only redirects to its base URL (no data; the proxy checks).
    ("GET", "/sessions/{session_id}"): rule(
        "anonymous " + SIGNED_IN, TENANT, path=SESSION, any_tenant=True
    ),
    # The proxy lets in the owner only (shared sessions: the project's members); the
    # world's session is starting, so the owner gets 503 where a running one would answer.
    **{
        (m, "/sessions/{session_id}/{path:path}"): _PROXY
        for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    },
    # environments: per organisation
    ("POST", "/v1/environments"): rule(
        "member admin steward center_admin", body=lambda o: {"name": "env-new"}
    ),
    ("GET", "/v1/environments"): rule(SIGNED_IN),
    ("GET", "/v1/environments/{name}"): rule("member admin center_admin", TENANT, path=ENV),
    ("GET", "/v1/environments/{name}/log"): rule("member admin center_admin", TENANT, path=ENV),
    # passwords: your own; anyone's for the operators
    ("POST", "/v1/me/password"): rule(SIGNED_IN, body=lambda o: PASSWORD),
    ("POST", "/v1/users/{username}/password"): rule(
        "center_admin", TENANT, path={"username": "member"}, body=lambda o: PASSWORD
    ),
}
