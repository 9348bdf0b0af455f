"""The storage backends pass one suite: local folder and S3 (moto's server on loopback)."""

from __future__ import annotations

import hashlib

import pytest

from aidc.storage import Corrupt, Storage
from tests.datasets_storage import s3_endpoint, storage  # noqa: F401


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def test_chunks_in_order_commit_into_one_verified_file(storage: Storage) -> None:  # noqa: F811
    data = bytes(range(256)) * 50
    for off in range(0, len(data), 3000):
        storage.write_chunk("staging/u1/0", off, data[off : off + 3000])
    storage.commit_staged("staging/u1/0", "data/ds/1/a/b.bin", len(data), sha(data))
    assert b"".join(storage.read_verified("data/ds/1/a/b.bin", len(data), sha(data))) == data
    assert storage.list_files("data/ds/1") == ["data/ds/1/a/b.bin"]
    assert not storage.list_files("staging/u1")


def test_a_chunk_sent_again_overwrites_itself(storage: Storage) -> None:  # noqa: F811
    data = b"x" * 5000
    storage.write_chunk("staging/u2/0", 0, data[:2000])
    storage.write_chunk("staging/u2/0", 0, data[:2000])  # its answer was lost: resent
    storage.write_chunk("staging/u2/0", 2000, data[2000:])
    storage.commit_staged("staging/u2/0", "data/ds/1/f", len(data), sha(data))
    storage.verify("data/ds/1/f", len(data), sha(data))


def test_a_wrong_checksum_is_refused_on_commit_and_leaves_nothing(storage: Storage) -> None:  # noqa: F811
    storage.write_chunk("staging/u3/0", 0, b"hello")
    with pytest.raises(Corrupt):
        storage.commit_staged("staging/u3/0", "data/ds/1/f", 5, sha(b"HELLO"))
    assert not storage.exists("data/ds/1/f")


def test_a_corrupted_stored_file_is_detected_on_read(storage: Storage) -> None:  # noqa: F811
    storage.write_chunk("staging/u4/0", 0, b"good bytes")
    storage.commit_staged("staging/u4/0", "data/ds/1/f", 10, sha(b"good bytes"))
    # Tamper with the stored bytes behind the store's back.
    storage.delete_tree("data/ds/1/f")
    storage.put_bytes("data/ds/1/f", b"evil bytes")
    with pytest.raises(Corrupt):
        storage.verify("data/ds/1/f", 10, sha(b"good bytes"))
    with pytest.raises(Corrupt):
        storage.verify("data/ds/1/missing", 10, sha(b"good bytes"))


def test_keys_cannot_leave_the_root(storage: Storage) -> None:  # noqa: F811
    for key in ("../x", "/etc/passwd", "a/../../b", "a//b", ""):
        with pytest.raises(ValueError):
            storage.path(key)


def test_reading_from_an_offset_still_verifies_the_whole_file(storage: Storage) -> None:  # noqa: F811
    data = b"0123456789" * 100
    storage.put_bytes("data/x/1/f", data)
    got = b"".join(storage.read_verified("data/x/1/f", len(data), sha(data), start=995, chunk=7))
    assert got == data[995:]
