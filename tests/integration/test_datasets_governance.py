"""Restricted data: it never leaves through the services (every path refused and audited),
jobs need a live grant (at submission and at launch), and what they write is held in the
airlock until a steward releases it. Real local engine and controller."""

from __future__ import annotations

import time

import pytest

from aidc.controller import Controller
from aidc.core.jobspec import JobSpec
from aidc.schemas_datasets import GrantDecision, GrantRequest
from aidc.services import (
    auth,
    datasets_airlock,
    datasets_audit,
    datasets_grants,
    datasets_preview,
    datasets_read,
    jobs,
    tenancy,
)
from aidc.services.center import Center
from aidc.services.datasets_place import place
from aidc.services.errors import Forbidden, Invalid, NotFound
from aidc.store.models import Organisation, Project, User
from aidc.store.models_allocations import Allocation, Course, CourseStudent
from tests.integration.datasets_env import DataTenants, approve, make_dataset, upload

RECORDS = b"patient,age\nA,34\nB,57\n"


def wait_for(pred, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def med(dc: Center, people: DataTenants) -> DataTenants:
    make_dataset(dc, people.t.root, "ehr", "restricted", sector="healthcare")
    upload(dc, people.t.root, "ehr", {"records.csv": RECORDS, "img/x.png": b"\x89PNG fake"})
    return people


def refused(c: Center, people: DataTenants, actor: str, action: str) -> list[str]:
    rows = datasets_audit.search(c, people.steve, dataset="ehr", actor=actor, action=action)
    return [r.outcome for r in rows]


def reader_job(**kw: object) -> JobSpec:
    script = 'cat "$AIDC_DATASET_EHR/records.csv" > "$AIDC_OUTPUT_DIR/copy.csv"; echo done'
    return JobSpec.model_validate(
        {"project": "acme-a", "script": script, "datasets": ["ehr@1:/data"]} | kw
    )


def grant(c: Center, people: DataTenants, ends_in: float = 3600) -> int:
    g = datasets_grants.request_grant(
        c,
        people.t.bob,
        GrantRequest(
            dataset="ehr", project="acme-a", purpose="sepsis model", ends_at=c.clock() + ends_in
        ),
    )
    assert (g.state, g.live) == ("requested", False)
    with pytest.raises(Forbidden):
        datasets_grants.decide(c, people.t.alice, g.id, True, GrantDecision())
    approved = datasets_grants.decide(c, people.steve, g.id, True, GrantDecision(reason="ok"))
    assert approved.live
    return g.id


def test_every_way_to_read_restricted_bytes_is_refused_and_audited(
    dc: Center, med: DataTenants
) -> None:
    t = med.t
    attempts = [
        ("download", lambda: datasets_read.open_file(dc, t.bob, "ehr", 1, "records.csv")),
        ("download", lambda: datasets_read.open_file(dc, t.root, "ehr", None, "records.csv")),
        ("download", lambda: datasets_read.open_file(dc, t.bob, "ehr", 99, "guessed.csv")),
        ("archive", lambda: datasets_read.archive(dc, t.bob, "ehr", 1)),
        ("preview", lambda: datasets_preview.preview(dc, t.carol, "ehr", 1, "records.csv")),
        ("preview", lambda: datasets_preview.preview(dc, t.bob, "ehr", 7, "img/x.png")),
        ("manifest", lambda: datasets_read.manifest(dc, t.carol, "ehr", 1)),
    ]
    for action, attempt in attempts:
        before = len(datasets_audit.search(dc, med.steve, dataset="ehr", outcome="refused"))
        with pytest.raises(Forbidden):
            attempt()
        after = datasets_audit.search(dc, med.steve, dataset="ehr", outcome="refused")
        assert len(after) == before + 1 and after[0].action == action
    # Even with a grant, the bytes stay inside: the grant is for jobs only.
    grant(dc, med)
    with pytest.raises(Forbidden):
        datasets_read.open_file(dc, t.bob, "ehr", 1, "records.csv")


def test_a_job_without_a_grant_is_refused_at_submission(dc: Center, med: DataTenants) -> None:
    with pytest.raises(Forbidden, match="grant"):
        jobs.submit(dc, med.t.bob, reader_job())
    assert refused(dc, med, "bob", "submit") == ["refused"]
    assert jobs.list_jobs(dc, med.t.bob) == []


def test_with_a_grant_the_job_reads_the_data_and_its_outputs_wait_in_the_airlock(
    dc: Center, med: DataTenants
) -> None:
    t = med.t
    grant(dc, med)
    controller = Controller(dc, tick_s=0.1)
    controller.start()
    try:
        job = jobs.submit(dc, t.bob, reader_job())
        wait_for(lambda: jobs.get_job(dc, t.bob, job.id).state in ("SUCCEEDED", "FAILED"))
        assert jobs.get_job(dc, t.bob, job.id).state == "SUCCEEDED"
        wait_for(lambda: datasets_airlock.list_outputs(dc, t.bob) != [])
    finally:
        controller.stop()
    with pytest.raises(Forbidden, match="log"):  # it may have printed the data
        jobs.read_log(dc, t.bob, job.id, 0, 10_000)
    assert b"done" in jobs.read_log(dc, t.root, job.id, 0, 10_000).data
    out = datasets_airlock.show(dc, t.bob, job.id)
    assert (out.state, [f.path for f in out.files]) == ("held", ["copy.csv"])
    assert out.datasets == ["ehr@1"]
    with pytest.raises(Forbidden, match="held"):
        datasets_airlock.open_output(dc, t.bob, job.id, "copy.csv")
    with pytest.raises(NotFound):  # another organisation's job: not even there
        datasets_airlock.show(dc, t.carol, job.id)
    with pytest.raises(Forbidden):
        datasets_airlock.decide(dc, t.bob, job.id, True, GrantDecision())
    released = datasets_airlock.decide(dc, med.steve, job.id, True, GrantDecision(reason="agg"))
    assert released.state == "released"
    _, chunks = datasets_airlock.open_output(dc, t.bob, job.id, "copy.csv")
    assert b"".join(chunks) == RECORDS
    actions = {(r.action, r.outcome) for r in datasets_audit.search(dc, med.steve, dataset="ehr")}
    assert {
        ("grant-request", "allowed"),
        ("grant-approve", "allowed"),
        ("mount", "allowed"),
        ("airlock-capture", "allowed"),
        ("output-download", "refused"),
        ("release", "allowed"),
        ("output-download", "allowed"),
    } <= actions
    mount = datasets_audit.search(dc, med.steve, dataset="ehr", action="mount")[0]
    assert (mount.project, mount.job_id, mount.purpose, mount.version) == (
        "acme-a",
        job.id,
        "sepsis model",
        1,
    )


def test_launch_refuses_a_job_whose_grant_was_revoked_after_submission(
    dc: Center, med: DataTenants
) -> None:
    gid = grant(dc, med)
    job = jobs.submit(dc, med.t.bob, reader_job())
    datasets_grants.revoke(dc, med.steve, gid, GrantDecision(reason="study ended"))
    controller = Controller(dc, tick_s=0.1)
    controller.start()
    try:
        wait_for(lambda: jobs.get_job(dc, med.t.bob, job.id).state in ("SUCCEEDED", "FAILED"))
    finally:
        controller.stop()
    view = jobs.get_job(dc, med.t.bob, job.id)
    assert view.state == "FAILED" and "grant" in view.state_reason
    assert refused(dc, med, f"job:{job.id}", "mount") == ["refused"]


def test_grants_expire_and_rejections_need_a_reason(dc: Center, med: DataTenants) -> None:
    grant(dc, med, ends_in=60)
    real = dc.clock
    dc.clock = lambda: real() + 120
    with pytest.raises(Forbidden, match="grant"):
        jobs.submit(dc, med.t.bob, reader_job())
    assert [g.live for g in datasets_grants.list_grants(dc, med.t.bob)] == [False]
    g = datasets_grants.request_grant(
        dc,
        med.t.bob,
        GrantRequest(dataset="ehr", project="acme-a", purpose="again", ends_at=dc.clock() + 60),
    )
    with pytest.raises(Invalid):
        datasets_grants.decide(dc, med.steve, g.id, False, GrantDecision())
    assert (
        datasets_grants.decide(dc, med.steve, g.id, False, GrantDecision(reason="no")).state
        == "rejected"
    )
    assert datasets_grants.list_grants(dc, med.t.carol) == []  # not Beta's business


def test_the_audit_log_is_for_stewards_and_exports_as_csv(dc: Center, med: DataTenants) -> None:
    with pytest.raises(Forbidden):
        datasets_audit.search(dc, med.t.alice)
    rows = datasets_audit.search(dc, med.steve, dataset="ehr")
    text = datasets_audit.as_csv(rows)
    assert text.splitlines()[0].startswith("at,actor,action,outcome,dataset,version")
    assert len(text.splitlines()) == len(rows) + 1


def test_a_course_grant_covers_its_students_projects(dc: Center, med: DataTenants) -> None:
    """A course listing the dataset asks once (its instructor); the steward's approval
    covers every student's project, and no other project."""
    tenancy.create_user(dc, "prof", "Beta", "member")
    prof = auth.authenticate(dc, auth.issue_token(dc, "prof"))
    approve(dc, "Beta", 0.001)
    with dc.db.transaction() as s:
        beta = s.query(Organisation).filter_by(name="Beta").one()
        project = s.query(Project).filter_by(name="beta-b").one()
        alloc = s.query(Allocation).filter_by(org_id=beta.id).one()
        carol = s.query(User).filter_by(username="carol").one()
        course = Course(
            name="dl101",
            org_id=beta.id,
            program_id=alloc.program_id,
            instructor_id=prof.user_id,
            starts_at=0,
            ends_at=4e9,
            student_hours={},
            student_quota={},
            datasets=["ehr"],
            created_at=0,
        )
        s.add(course)
        s.flush()
        s.add(CourseStudent(course_id=course.id, user_id=carol.id, project_id=project.id,
                            allocation_id=alloc.id))  # fmt: skip
    ask = GrantRequest(dataset="ehr", course="dl101", purpose="teaching",
                       ends_at=dc.clock() + 3600)  # fmt: skip
    with pytest.raises(NotFound):  # only the course's managers ask for it
        datasets_grants.request_grant(dc, med.t.carol, ask)
    g = datasets_grants.request_grant(dc, prof, ask)
    assert (g.course, g.project) == ("dl101", "")
    datasets_grants.decide(dc, med.steve, g.id, True, GrantDecision())
    spec = reader_job(project="beta-b")
    assert jobs.submit(dc, med.t.carol, spec).state == "QUEUED"
    with pytest.raises(Forbidden):
        jobs.submit(dc, med.t.bob, reader_job())  # acme-a is no student project
    assert [x.course for x in datasets_grants.list_grants(dc, med.t.carol)] == ["dl101"]
    make_dataset(dc, med.t.root, "other", "restricted")
    with pytest.raises(Invalid, match="does not list"):
        datasets_grants.request_grant(
            dc,
            prof,
            GrantRequest(dataset="other", course="dl101", purpose="x", ends_at=dc.clock() + 60),
        )


def test_a_job_is_not_started_on_corrupted_data(dc: Center, med: DataTenants) -> None:
    grant(dc, med)
    job = jobs.submit(dc, med.t.bob, reader_job())
    st = place(dc).storage
    st.delete_tree("data/ehr/1/records.csv")
    st.put_bytes("data/ehr/1/records.csv", RECORDS.replace(b"34", b"99"))  # same size
    controller = Controller(dc, tick_s=0.1)
    controller.start()
    try:
        wait_for(lambda: jobs.get_job(dc, med.t.bob, job.id).state in ("SUCCEEDED", "FAILED"))
    finally:
        controller.stop()
    view = jobs.get_job(dc, med.t.bob, job.id)
    assert view.state == "FAILED" and "corrupt" in view.state_reason
    assert refused(dc, med, f"job:{job.id}", "mount") == ["refused"]
