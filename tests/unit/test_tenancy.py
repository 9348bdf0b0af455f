"""Who may submit to, read and cancel which jobs."""

from __future__ import annotations

from aidc.core.tenancy import Principal, Role, can_cancel_job, can_read_job, can_submit

ORG, OTHER_ORG = 1, 2
OWN_PROJECT, ORG_PROJECT, FOREIGN_PROJECT = 10, 11, 20


def who(
    role: Role, user_id: int = 100, org_id: int = ORG, projects: set[int] | None = None
) -> Principal:
    return Principal(
        user_id=user_id,
        username=f"u{user_id}",
        org_id=org_id,
        org_name=f"org{org_id}",
        role=role,
        project_ids=frozenset({OWN_PROJECT} if projects is None else projects),
    )


def test_viewer_cannot_submit_even_to_own_project() -> None:
    assert not can_submit(who(Role.VIEWER), OWN_PROJECT)


def test_members_and_org_admins_submit_to_their_projects_only() -> None:
    for role in (Role.MEMBER, Role.ORG_ADMIN):
        assert can_submit(who(role), OWN_PROJECT)
        assert not can_submit(who(role), ORG_PROJECT)
        assert not can_submit(who(role), FOREIGN_PROJECT)


def test_center_admin_submits_anywhere() -> None:
    assert can_submit(who(Role.CENTER_ADMIN, projects=set()), FOREIGN_PROJECT)


def test_member_reads_jobs_of_own_projects_only() -> None:
    member = who(Role.MEMBER)
    assert can_read_job(member, OWN_PROJECT, ORG)
    assert not can_read_job(member, ORG_PROJECT, ORG)
    assert not can_read_job(member, FOREIGN_PROJECT, OTHER_ORG)


def test_viewer_reads_own_projects() -> None:
    assert can_read_job(who(Role.VIEWER), OWN_PROJECT, ORG)
    assert not can_read_job(who(Role.VIEWER), ORG_PROJECT, ORG)


def test_org_admin_reads_and_cancels_in_its_org_only() -> None:
    admin = who(Role.ORG_ADMIN, projects=set())
    assert can_read_job(admin, ORG_PROJECT, ORG)
    assert can_cancel_job(admin, owner_id=7, project_id=ORG_PROJECT, project_org_id=ORG)
    assert not can_read_job(admin, FOREIGN_PROJECT, OTHER_ORG)
    assert not can_cancel_job(
        admin, owner_id=7, project_id=FOREIGN_PROJECT, project_org_id=OTHER_ORG
    )


def test_owner_cancels_own_job_but_not_a_colleagues() -> None:
    member = who(Role.MEMBER, user_id=5)
    assert can_cancel_job(member, owner_id=5, project_id=OWN_PROJECT, project_org_id=ORG)
    assert not can_cancel_job(member, owner_id=6, project_id=OWN_PROJECT, project_org_id=ORG)


def test_center_admin_reads_and_cancels_everything() -> None:
    op = who(Role.CENTER_ADMIN, org_id=99, projects=set())
    assert op.is_center_admin
    assert can_read_job(op, FOREIGN_PROJECT, OTHER_ORG)
    assert can_cancel_job(op, owner_id=7, project_id=FOREIGN_PROJECT, project_org_id=OTHER_ORG)


def test_only_center_admin_is_center_admin() -> None:
    assert [r for r in Role if who(r).is_center_admin] == [Role.CENTER_ADMIN]
