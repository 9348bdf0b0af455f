"""Abandoned uploads expire: the controller's periodic step drops an upload not committed
within AIDC_UPLOAD_EXPIRE_S (staged bytes deleted, quota released, audited), and a later
chunk or commit is answered Gone. Both databases, both storage backends."""

from __future__ import annotations

import pytest

from aidc.controller.accounting import Accounting
from aidc.services import datasets, datasets_audit, datasets_quota, datasets_upload
from aidc.services.center import Center
from aidc.services.datasets_place import place
from aidc.services.errors import Gone, Invalid
from aidc.store.models import Organisation
from tests.integration.datasets_env import DataTenants, decl, make_dataset

DATA = bytes(range(256)) * 2400  # 614,400 bytes: one such upload fits Acme's 1 MB, not two


def used(c: Center) -> int:
    with c.db.read() as s:
        org = s.query(Organisation).filter_by(name="Acme").one()
        return datasets_quota.used_bytes(s, org.id)


def test_an_upload_left_uncommitted_is_dropped_and_its_quota_released(
    dc: Center, people: DataTenants
) -> None:
    now = [dc.clock()]
    dc.clock = lambda: now[0]
    bob = people.t.bob
    make_dataset(dc, people.t.alice, "traffic", "public", owner="Acme")
    old = datasets_upload.start_upload(dc, bob, "traffic", decl({"f.bin": DATA}))
    datasets_upload.put_chunk(dc, bob, "traffic", old.upload_id, 0, 0, DATA[:100_000])
    assert used(dc) == len(DATA)
    with pytest.raises(Invalid, match="quota"):  # the abandoned upload holds the quota
        datasets_upload.start_upload(dc, bob, "traffic", decl({"g.bin": DATA}))

    accounting = Accounting(dc, every_s=60)
    now[0] += place(dc).upload_expire_s - 1
    accounting.step(force=True)  # not yet
    assert datasets_upload.show_upload(dc, bob, "traffic", old.upload_id).state == "uploading"
    now[0] += 2
    accounting.step(force=True)

    gone = datasets_upload.show_upload(dc, bob, "traffic", old.upload_id)
    assert gone.state == "expired"
    assert place(dc).storage.list_files("staging") == []
    assert used(dc) == 0
    rows = datasets_audit.search(dc, people.steve, dataset="traffic", action="upload-expire")
    assert [(r.actor, r.version, r.outcome) for r in rows] == [("aidc", 1, "allowed")]
    with pytest.raises(Gone, match="start a new upload") as e:
        datasets_upload.put_chunk(dc, bob, "traffic", old.upload_id, 0, 100_000, DATA[100_000:])
    assert e.value.field == "upload"
    with pytest.raises(Gone):
        datasets_upload.commit(dc, bob, "traffic", old.upload_id)

    # The quota it held is free again: a new upload of the same size goes through.
    new = datasets_upload.start_upload(dc, bob, "traffic", decl({"f.bin": DATA}))
    datasets_upload.put_chunk(dc, bob, "traffic", new.upload_id, 0, 0, DATA)
    assert datasets_upload.commit(dc, bob, "traffic", new.upload_id).state == "ready"
    accounting.step(force=True)  # a committed version never expires
    assert [v.version for v in datasets.show(dc, bob, "traffic").versions] == [2]
    assert datasets_upload.show_upload(dc, bob, "traffic", new.upload_id).state == "ready"
