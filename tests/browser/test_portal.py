"""The portal in a real browser against a real demo server: log in, submit from the form,
watch it run and its log appear, cancel, request and approve an allocation, Korean, and
one organisation's user kept out of another's jobs."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from aidc.services.auth import AUTH_CACHE_S

pytestmark = pytest.mark.e2e

# Inputs a person fills in that have neither a <label> nor an aria-label.
UNLABELLED = """() => Array.from(document.querySelectorAll(
  'input:not([type=hidden]), select, textarea'))
  .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label'))
  .map(e => e.name || e.id)"""
shared: dict[str, str] = {}


def check_accessible(page: Any) -> None:
    assert page.evaluate(UNLABELLED) == []
    page.keyboard.press("Tab")  # the first stop is the skip link, then the page's own
    assert page.evaluate("() => document.activeElement.className") == "skip-link"
    page.evaluate("() => document.activeElement.blur()")  # keep screenshots plain


def submit_job(portal: Any, name: str, script: str) -> str:
    page = portal.page
    portal.go("/jobs/new")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Script").fill(script)
    page.get_by_label("Time limit").fill("10m")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(re.compile(r".*/portal/jobs/[0-9a-f]{16}$"))
    return str(page.url.rsplit("/", 1)[1])


def test_log_in_submit_and_watch_the_log(portal: Callable[..., Any]) -> None:
    p = portal()
    p.go("/")  # not logged in: the login form
    assert "/portal/login" in p.page.url
    check_accessible(p.page)
    p.shot("01-login")
    p.page.get_by_label("Username").fill("minji")
    p.page.get_by_label("Password").fill("wrong password")
    p.page.get_by_role("button", name="Log in").click()
    assert p.page.locator("#login-error").is_visible()
    p.login("minji")
    assert p.page.get_by_role("heading", name="Dashboard").is_visible()
    check_accessible(p.page)
    p.shot("02-dashboard")

    p.go("/jobs/new")
    check_accessible(p.page)
    p.page.get_by_label("Script").fill("true")
    p.page.get_by_label("CPU cores").fill("0")
    p.page.get_by_role("button", name="Submit").click()
    # The API's own message for the field, shown next to it.
    assert "greater than or equal to 1" in p.page.locator("#e-cpus").inner_text()
    p.shot("03-submit-form-errors")

    job = submit_job(p, "portal-run", "for i in 1 2 3; do echo portal-line-$i 로그; sleep 1; done")
    shared["job"] = job
    p.page.wait_for_selector('#job-state[data-state="RUNNING"]')
    p.page.wait_for_function(
        "() => document.querySelector('#job-log').textContent.includes('portal-line-1')"
    )
    p.shot("04-job-running")
    p.page.wait_for_selector('#job-state[data-state="SUCCEEDED"]')
    p.page.wait_for_function(
        "() => document.querySelector('#job-log').textContent.includes('portal-line-3 로그')"
    )
    assert (
        "SUCCEEDED" in p.page.locator(".timeline").inner_text()
        or p.page.locator(".timeline .state-succeeded").count()
    )
    check_accessible(p.page)
    p.shot("05-job-finished")


def test_cancel_a_job(portal: Callable[..., Any]) -> None:
    p = portal("jisoo")
    submit_job(p, "portal-cancel", "sleep 300")
    p.page.get_by_role("button", name="Cancel job").click()
    p.page.wait_for_selector('#job-state[data-state="CANCELLED"]')
    p.shot("06-job-cancelled")


def test_org_admin_requests_and_reviewer_approves(portal: Callable[..., Any]) -> None:
    admin = portal("seojun")
    admin.go("/org")
    check_accessible(admin.page)
    admin.shot("07-org-members")
    admin.go("/allocations/new")
    check_accessible(admin.page)
    page = admin.page
    page.get_by_label("Project").select_option("mirae-adas")
    page.get_by_label("Program").select_option("2027 AI startup compute support")
    page.get_by_label("Resource").select_option("a100")
    page.get_by_label("Hours").fill("120")
    page.get_by_label("Justification").fill("Night-time pedestrian detection experiments.")
    admin.shot("08-allocation-form")
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_url(re.compile(r".*/portal/allocations/\d+$"))
    allocation = page.url.rsplit("/", 1)[1]
    assert page.locator("#allocation-state").get_attribute("data-state") == "requested"
    admin.shot("08b-allocation-requested")

    reviewer = portal("reviewer-choi")
    reviewer.go("/ops/reviews")
    reviewer.shot("09-review-queue")
    reviewer.page.get_by_role("link", name=allocation, exact=True).click()
    check_accessible(reviewer.page)
    reviewer.page.locator("#reason-approve").fill("a clear plan")
    reviewer.page.locator("#review-approve").click()
    reviewer.page.wait_for_url(re.compile(rf".*/portal/allocations/{allocation}$"))
    state = reviewer.page.locator("#allocation-state").get_attribute("data-state")
    assert state in ("approved", "active")
    reviewer.shot("10-allocation-approved")
    admin.go(f"/allocations/{allocation}")
    assert admin.page.locator("#allocation-state").get_attribute("data-state") == state


def test_switch_to_korean(portal: Callable[..., Any]) -> None:
    p = portal("minji")
    p.page.get_by_role("link", name="한국어").click()
    p.page.wait_for_selector("html[lang=ko]")
    assert p.page.get_by_role("heading", name="대시보드").is_visible()
    assert p.page.get_by_role("link", name="작업 제출").is_visible()
    p.shot("11-dashboard-ko")
    if "job" in shared:
        p.go(f"/jobs/{shared['job']}")
        assert p.page.locator("#job-state").inner_text() == "성공"
        # Babel's Korean date format, e.g. "2026. 12. 1. 오후 4:05:00 UTC"
        assert re.search(r"\d{4}\. \d{1,2}\. \d{1,2}\.", p.page.locator(".facts").inner_text())
        p.shot("12-job-ko")
    p.go("/jobs/new")
    assert p.page.get_by_label("명령").is_visible()
    p.shot("12b-submit-form-ko")
    p.page.get_by_role("link", name="English").click()
    p.page.wait_for_selector("html[lang=en]")


def test_another_organisation_cannot_open_the_job(portal: Callable[..., Any]) -> None:
    job = shared.get("job")
    if job is None:
        pytest.skip("needs the job of test_log_in_submit_and_watch_the_log")
    other = portal("hyunwoo")  # Daehan Motors' admin; the job is Hanbit Vision's
    for path in (f"/jobs/{job}", f"/jobs/{job}/log", f"/jobs/{job}/status"):
        response = other.go(path)
        assert response.status == 404, path
        assert "portal-line" not in other.page.content()
    other.shot("13-other-org-job-404")
    assert other.go("/ops/cluster").status == 403  # not an operator


def test_datasets_catalog_preview_grant_and_another_org_refused(
    portal: Callable[..., Any],
) -> None:
    p = portal("minji")
    p.go("/datasets")
    check_accessible(p.page)
    p.page.get_by_label("Access tier").select_option("public")
    p.page.get_by_role("button", name="Search").click()
    assert p.page.get_by_role("link", name="ehr-synthetic").count() == 0
    p.shot("20-dataset-catalog")
    p.page.get_by_role("link", name="traffic-seoul").click()
    p.page.wait_for_selector("table.preview tbody tr")  # the first rows of its CSV
    check_accessible(p.page)
    p.shot("21-dataset-public-preview")
    p.go("/datasets/ehr-synthetic")
    assert p.page.locator("table.preview").count() == 0  # restricted: no preview
    check_accessible(p.page)
    p.page.get_by_label("Purpose").fill("sepsis early warning")
    p.page.get_by_label("For how many days").fill("30")
    p.shot("22-dataset-restricted")
    p.page.get_by_role("button", name="Request access").click()
    p.page.wait_for_url(re.compile(r".*/portal/datasets-access/grants/\d+$"))
    grant = p.page.url.split("/portal", 1)[1]
    p.shot("23-grant-requested")

    other = portal("hyunwoo")  # Daehan Motors: not Hanbit Vision's grant, no restricted bytes
    assert other.go(grant).status == 404
    assert "sepsis early warning" not in other.page.content()
    preview = other.go("/datasets/ehr-synthetic/preview?path=admissions.csv")
    assert preview.status == 403
    assert "P00001" not in other.page.content()
    other.shot("24-other-org-dataset-403")

    steward = portal("admin")  # center admins decide grants like data stewards
    steward.go("/datasets-access/grants")
    check_accessible(steward.page)
    steward.shot("25-grants-pending")
    steward.go(grant)
    steward.page.get_by_role("button", name="Approve").click()
    steward.page.wait_for_url(re.compile(r".*/portal/datasets-access/grants/\d+$"))
    assert "approved" in steward.page.locator("table").inner_text()
    steward.go("/datasets-access/airlock")
    check_accessible(steward.page)
    steward.shot("26-airlock")

    p.go("/notebooks")
    check_accessible(p.page)
    assert p.page.get_by_label("GPUs").is_visible()
    p.shot("27-notebooks")
    p.go("/environments")
    p.shot("28-environments")


def test_operator_console(portal: Callable[..., Any]) -> None:
    p = portal("admin")
    pages = {
        "/ops/cluster": "14-cluster",
        "/ops/queue": "15-queue",
        "/ops/utilisation": "16-utilisation",
        "/ops/simulations": "17-simulations",
        "/allocations": "18-allocations",
    }
    for path, name in pages.items():
        assert p.go(path).status == 200, path
        check_accessible(p.page)
        p.shot(name)
    p.go("/ops/cluster")
    assert p.page.locator(".node").count() >= 1
    p.go("/ops/utilisation")
    p.page.wait_for_selector(".chart canvas")  # uPlot drew the charts (its script ran)
    with p.page.expect_download() as download:
        p.page.get_by_role("link", name=re.compile("Download as CSV \\(by org-kind\\)")).click()
    assert download.value.suggested_filename.startswith("aidc-usage-org-kind")
    p.go("/account")
    p.page.get_by_label("Token name").fill("laptop")
    p.page.get_by_role("button", name="Create token").click()
    token = p.page.locator("#new-token").input_value()
    assert token.startswith("aidc_")
    me = httpx.get(
        p.url.removesuffix("/portal") + "/v1/whoami", headers={"Authorization": f"Bearer {token}"}
    )
    assert me.json()["username"] == "admin"  # the CLI's token, made in the browser
    check_accessible(p.page)
    p.shot("19-account-tokens")
    p.page.get_by_role("button", name=re.compile(r"^Revoke laptop ")).click()
    p.page.wait_for_url(re.compile(r".*/portal/account$"))
    # Other API workers trust a checked token for up to auth.AUTH_CACHE_S more.
    deadline = time.monotonic() + 10 * AUTH_CACHE_S
    while (
        status := httpx.get(me.url, headers={"Authorization": f"Bearer {token}"}).status_code
    ) == 200:
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == 401
    p.page.get_by_role("button", name="Log out").click()
    p.page.wait_for_url(re.compile(r".*/portal/login$"))
    assert "/portal/login" in (p.go("/").url)  # the session ended
