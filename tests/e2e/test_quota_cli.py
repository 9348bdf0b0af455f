"""Quotas through the real CLI and server: the demo tree, admin changes, tenant isolation."""

from __future__ import annotations

import json

from tests.server_process import ServerProcess


def quotas(server: ServerProcess, user: str) -> dict[tuple[str, str], dict]:
    r = server.cli("quota", "list", "--json", user=user)
    assert r.returncode == 0, r.stderr
    return {(q["owner"], q["resource"]): q for q in json.loads(r.stdout)}


def test_quotas_cohorts_and_shares_through_the_cli(server: ServerProcess) -> None:
    # The demo: a100 quotas for the voucher projects, under a program cohort.
    seen = quotas(server, "admin")
    assert seen[("hanbit-vision", "a100")]["nominal"] == 2
    assert seen[("mirae-adas", "a100")]["nominal"] == 2
    cohorts = json.loads(server.cli("cohort", "list", "--json", user="admin").stdout)
    parents = {c["name"]: c["parent"] for c in cohorts}
    assert parents["Hanbit Vision"] == parents["Mirae Mobility"] == "ai-voucher"
    assert parents["ai-voucher"] is None and parents["Daehan Motors"] is None

    r = server.cli(
        "quota", "set", "--project", "hanbit-vision", "a100", "--nominal", "3",
        "--borrowing-limit", "1", user="admin",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = server.cli("quota", "set", "--cohort", "ai-voucher", "memory_mib", "--nominal", "64G")
    assert r.returncode == 2 and "center admins" in r.stderr  # minji is an org admin
    r = server.cli(
        "quota", "set", "--cohort", "ai-voucher", "memory_mib", "--nominal", "64G", user="admin"
    )
    assert r.returncode == 0, r.stderr
    seen = quotas(server, "admin")
    assert seen[("hanbit-vision", "a100")]["borrowing_limit"] == 1
    assert seen[("ai-voucher", "memory_mib")]["nominal"] == 64 * 1024
    table = server.cli("quota", "list", user="admin").stdout
    assert "BORROWED" in table and "hanbit-vision" in table and "64 GiB" in table

    # A member sees only its own projects; the org admin its organisation and cohort chain.
    assert {o for o, _ in quotas(server, "jisoo")} == {"hanbit-vision"}
    minji = quotas(server, "minji")
    assert {o for o, _ in minji} == {"hanbit-vision", "ai-voucher"}
    assert minji[("ai-voucher", "memory_mib")]["used"] is None  # others' use stays hidden
    assert "mirae-adas" not in server.cli("quota", "list", user="minji").stdout

    # Members cannot change anything: exit 2 with the reason; bad input names the field.
    r = server.cli("quota", "set", "-p", "hanbit-vision", "a100", "--nominal", "4", user="jisoo")
    assert r.returncode == 2 and "center admins" in r.stderr
    r = server.cli("quota", "set", "-p", "hanbit-vision", "z100", "--nominal", "1", user="admin")
    assert r.returncode == 2 and "resource:" in r.stderr and "a100" in r.stderr
    r = server.cli("quota", "set", "a100", "--nominal", "1", user="admin")
    assert r.returncode == 2 and "--project" in r.stderr

    # Cohorts and shares.
    r = server.cli("cohort", "create", "startup-grants", "--parent", "ai-voucher", user="admin")
    assert r.returncode == 0, r.stderr
    r = server.cli("cohort", "move", "ai-voucher", "--parent", "startup-grants", user="admin")
    assert r.returncode == 2 and "cycle" in r.stderr
    r = server.cli("cohort", "move", "Hanbit Vision", "--parent", "startup-grants", user="admin")
    assert r.returncode == 0, r.stderr
    tree = server.cli("cohort", "list", user="minji").stdout
    assert "startup-grants" in tree and "hanbit-vision" in tree and "mirae" not in tree.lower()
    assert server.cli("project", "shares", "hanbit-vision", "3", user="jisoo").returncode == 2
    r = server.cli("project", "shares", "hanbit-vision", "3", user="admin")
    assert r.returncode == 0 and "shares 3" in r.stdout
    r = server.cli("quota", "clear", "--cohort", "ai-voucher", "memory_mib", user="admin")
    assert r.returncode == 0, r.stderr
    assert ("ai-voucher", "memory_mib") not in quotas(server, "admin")
