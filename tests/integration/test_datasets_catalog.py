"""The catalog's use cases on both databases and both storage backends: uploads with
safe names and quotas checked before any byte, checksums on write and read, tiers."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest
from sqlalchemy import select

from aidc.core.jobspec import JobSpec
from aidc.schemas_datasets import FileDecl, FileSum, UploadCreate
from aidc.services import datasets, datasets_audit, datasets_read, datasets_upload, jobs
from aidc.services.center import Center
from aidc.services.datasets_place import place
from aidc.services.errors import Conflict, Forbidden, Invalid
from aidc.storage import Corrupt
from aidc.store.models import JobRow
from tests.integration.datasets_env import DataTenants, decl, make_dataset, upload

BAD_NAMES = [
    "../escape.csv",
    "a/../../b",
    "/etc/passwd",
    "C:/x",
    "a\\b",
    "a//b",
    "./a",
    "a\x00b",
    "a\nb",
    " lead",
    "x" * 300,
]


def stored(c: Center) -> list[str]:
    return place(c).storage.list_files("staging") + place(c).storage.list_files("data")


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_unsafe_file_names_are_refused_before_any_byte(
    dc: Center, people: DataTenants, bad: str
) -> None:
    make_dataset(dc, people.t.alice, "traffic", "public", owner="Acme")
    body = UploadCreate(files=[FileDecl(path=bad, size=1, sha256="0" * 64)])
    with pytest.raises(Invalid) as e:
        datasets_upload.start_upload(dc, people.t.alice, "traffic", body)
    assert e.value.field == "files.0.path"
    assert stored(dc) == []
    assert datasets.show(dc, people.t.alice, "traffic").versions == []


def test_upload_commit_and_download_round_trip(dc: Center, people: DataTenants) -> None:
    make_dataset(dc, people.t.alice, "traffic", "public", owner="Acme", tags=["Seoul", "cars"])
    files = {"a.csv": b"x,y\n1,2\n", "sub/b.bin": bytes(range(256)) * 10}
    view = upload(dc, people.t.bob, "traffic", files, chunk=100)
    assert (view.state, view.version) == ("ready", 1)
    m = datasets_read.manifest(dc, people.t.carol, "traffic", None)
    assert {f.path: f.size for f in m.files} == {"a.csv": 8, "sub/b.bin": 2560}
    _, chunks = datasets_read.open_file(dc, people.t.carol, "traffic", 1, "sub/b.bin")
    assert b"".join(chunks) == files["sub/b.bin"]
    assert upload(dc, people.t.bob, "traffic", {"a.csv": b"v2"}).version == 2
    found = datasets.search(dc, people.t.carol, tag="seoul", tier="public", sector="automotive")
    assert [d.name for d in found] == ["traffic"]
    assert datasets.search(dc, people.t.carol, text="nothing") == []


def test_an_interrupted_upload_resumes_where_it_stopped(dc: Center, people: DataTenants) -> None:
    make_dataset(dc, people.t.alice, "traffic", "public", owner="Acme")
    data = b"abcdefghij" * 30
    up = datasets_upload.start_upload(dc, people.t.bob, "traffic", decl({"f": data}))
    datasets_upload.put_chunk(dc, people.t.bob, "traffic", up.upload_id, 0, 0, data[:100])
    with pytest.raises(Conflict):  # a chunk from the wrong place
        datasets_upload.put_chunk(dc, people.t.bob, "traffic", up.upload_id, 0, 200, data[200:])
    again = datasets_upload.show_upload(dc, people.t.bob, "traffic", up.upload_id)
    assert again.files[0].received == 100
    datasets_upload.put_chunk(dc, people.t.bob, "traffic", up.upload_id, 0, 100, data[100:])
    assert datasets_upload.commit(dc, people.t.bob, "traffic", up.upload_id).state == "ready"


def test_quota_exceeded_is_refused_before_any_byte_is_stored(
    dc: Center, people: DataTenants
) -> None:
    make_dataset(dc, people.t.alice, "big", "public", owner="Acme")  # Acme may hold 1 MB
    with pytest.raises(Invalid, match="quota") as e:
        datasets_upload.start_upload(dc, people.t.bob, "big", decl({"f": b"x" * 1_000_001}))
    assert e.value.field == "files"
    assert stored(dc) == []
    # Beta has no allocation: the default (0.5 MB) applies.
    make_dataset(dc, people.t.carol, "beta-data", "public", owner="Beta")
    with pytest.raises(Invalid, match="quota"):
        datasets_upload.start_upload(dc, people.t.carol, "beta-data", decl({"f": b"x" * 500_001}))
    assert stored(dc) == []
    # The center's own datasets have no quota.
    make_dataset(dc, people.t.root, "open", "public")
    assert (
        upload(dc, people.t.root, "open", {"f": b"y" * 1_100_000}, chunk=500_000).state == "ready"
    )


def test_a_chunk_is_refused_when_the_quota_shrank_meanwhile(
    dc: Center, people: DataTenants
) -> None:
    make_dataset(dc, people.t.alice, "a", "public", owner="Acme")
    up = datasets_upload.start_upload(dc, people.t.bob, "a", decl({"f": b"z" * 600_000}))
    with dc.db.transaction() as s:  # the allocation ends: the default 0.5 MB applies
        s.execute(__import__("sqlalchemy").text("UPDATE allocations SET state = 'expired'"))
    with pytest.raises(Invalid, match="quota"):
        datasets_upload.put_chunk(dc, people.t.bob, "a", up.upload_id, 0, 0, b"z" * 1000)
    assert stored(dc) == []


def test_a_wrong_checksum_fails_the_commit_and_the_file_is_sent_again(
    dc: Center, people: DataTenants
) -> None:
    make_dataset(dc, people.t.alice, "t", "public", owner="Acme")
    up = datasets_upload.start_upload(dc, people.t.bob, "t", decl({"f": b"right"}))
    datasets_upload.put_chunk(dc, people.t.bob, "t", up.upload_id, 0, 0, b"wrong")
    with pytest.raises(Invalid, match="checksum"):
        datasets_upload.commit(dc, people.t.bob, "t", up.upload_id)
    assert datasets_upload.show_upload(dc, people.t.bob, "t", up.upload_id).files[0].received == 0
    datasets_upload.put_chunk(dc, people.t.bob, "t", up.upload_id, 0, 0, b"right")
    assert datasets_upload.commit(dc, people.t.bob, "t", up.upload_id).state == "ready"


def test_a_corrupted_stored_file_is_detected_on_read(dc: Center, people: DataTenants) -> None:
    make_dataset(dc, people.t.alice, "t", "public", owner="Acme")
    upload(dc, people.t.bob, "t", {"f.csv": b"a,b\n1,2\n"})
    st = place(dc).storage
    st.delete_tree("data/t/1/f.csv")
    st.put_bytes("data/t/1/f.csv", b"a,b\n6,6\n")  # same size, other bytes
    with pytest.raises(Corrupt):
        datasets_read.open_file(dc, people.t.carol, "t", 1, "f.csv")
    rows = datasets_audit.search(dc, people.steve, dataset="t", action="corrupt")
    assert rows and rows[0].outcome == "refused"


def test_only_owners_upload_and_only_operators_publish_for_the_center(
    dc: Center, people: DataTenants
) -> None:
    make_dataset(dc, people.t.alice, "mine", "public", owner="Acme")
    with pytest.raises(Forbidden):
        datasets_upload.start_upload(dc, people.t.carol, "mine", decl({"f": b"x"}))
    with pytest.raises(Forbidden):
        datasets_upload.start_upload(dc, people.t.vic, "mine", decl({"f": b"x"}))
    with pytest.raises(Forbidden):
        make_dataset(dc, people.t.alice, "central", "public")


def test_registered_data_is_for_members_of_approved_organisations(
    dc: Center, people: DataTenants
) -> None:
    make_dataset(dc, people.t.root, "reg", "registered", sector="energy")
    upload(dc, people.t.root, "reg", {"f.csv": b"a\n1\n"})
    _, chunks = datasets_read.open_file(dc, people.t.bob, "reg", 1, "f.csv")  # Acme: approved
    assert b"".join(chunks) == b"a\n1\n"
    with pytest.raises(Forbidden, match="registered"):
        datasets_read.open_file(dc, people.t.carol, "reg", 1, "f.csv")  # Beta: no allocation
    rows = datasets_audit.search(dc, people.steve, dataset="reg", actor="carol")
    assert [(r.action, r.outcome) for r in rows] == [("download", "refused")]


def test_a_file_declared_by_size_gets_its_checksum_at_commit(
    dc: Center, people: DataTenants
) -> None:
    make_dataset(dc, people.t.alice, "t", "public", owner="Acme")
    body = UploadCreate(files=[FileDecl(path="f", size=6)])
    up = datasets_upload.start_upload(dc, people.t.bob, "t", body)
    datasets_upload.put_chunk(dc, people.t.bob, "t", up.upload_id, 0, 0, b"abc")
    datasets_upload.put_chunk(dc, people.t.bob, "t", up.upload_id, 0, 3, b"def")
    with pytest.raises(Invalid, match="SHA-256"):
        datasets_upload.commit(dc, people.t.bob, "t", up.upload_id)
    wrong = [FileSum(idx=0, sha256=hashlib.sha256(b"abcdeF").hexdigest())]
    with pytest.raises(Invalid, match="checksum"):
        datasets_upload.commit(dc, people.t.bob, "t", up.upload_id, wrong)
    datasets_upload.put_chunk(dc, people.t.bob, "t", up.upload_id, 0, 0, b"abcdef")
    right = [FileSum(idx=0, sha256=hashlib.sha256(b"abcdef").hexdigest())]
    assert datasets_upload.commit(dc, people.t.bob, "t", up.upload_id, right).state == "ready"
    assert datasets_read.manifest(dc, people.t.bob, "t", 1).files[0].sha256 == right[0].sha256


def test_jobs_name_datasets_their_organisation_may_read_and_get_the_version_pinned(
    dc: Center, people: DataTenants
) -> None:
    make_dataset(dc, people.t.root, "reg", "registered", sector="energy")
    upload(dc, people.t.root, "reg", {"f.csv": b"a\n1\n"})
    upload(dc, people.t.root, "reg", {"f.csv": b"a\n2\n"})

    def job(project: str, ref: str) -> JobSpec:
        return JobSpec.model_validate({"project": project, "command": ["true"], "datasets": [ref]})

    queued = jobs.submit(dc, people.t.bob, job("acme-a", "reg"))
    with dc.db.read() as s:
        spec = s.scalars(select(JobRow.spec).where(JobRow.id == queued.id)).one()
    assert spec["datasets"] == [{"name": "reg", "version": 2, "path": "/data"}]
    with pytest.raises(Forbidden, match="registered"):  # Beta has no active allocation
        jobs.submit(dc, people.t.carol, job("beta-b", "reg@1"))
    with pytest.raises(Invalid):
        jobs.submit(dc, people.t.bob, job("acme-a", "reg@9"))
    with pytest.raises(Invalid):
        jobs.submit(dc, people.t.bob, job("acme-a", "no-such-data"))


def test_a_version_exports_as_a_tar_of_its_files(dc: Center, people: DataTenants) -> None:
    make_dataset(dc, people.t.root, "open", "public")
    files = {"a.csv": b"x\n1\n", "sub/b.bin": bytes(range(256)) * 3, "empty": b""}
    upload(dc, people.t.root, "open", files)
    data = b"".join(datasets_read.archive(dc, people.t.carol, "open", None))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        got = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    assert got == {f"open-1/{k}": v for k, v in files.items()}
    assert [r.action for r in datasets_audit.search(dc, people.steve, dataset="open")][:1] == [
        "archive"
    ]
