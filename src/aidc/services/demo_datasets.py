"""The demo center's sample datasets: one small generated dataset per sector, one of them
restricted (synthetic health records), owned by the center, and a data steward.

The data is generated from a fixed seed (no downloads): CSV tables and a few tiny PNG
images, enough to try search, previews, downloads, grants, jobs and the airlock.
"""

from __future__ import annotations

import hashlib
import random
import struct
import zlib
from collections.abc import Callable

from sqlalchemy import select

from aidc.core.tenancy import Principal, Role
from aidc.schemas_datasets import DatasetCreate, FileDecl, UploadCreate
from aidc.services import auth, datasets, datasets_upload, tenancy
from aidc.services.center import Center
from aidc.services.errors import NotFound
from aidc.store.models import Organisation, User

STEWARD = "steward"
DEMO_TOKEN_NAME = "demo"


def _csv(header: str, rows: int, row: Callable[[random.Random, int], str], seed: int) -> bytes:
    rnd = random.Random(seed)
    return (header + "\n" + "".join(row(rnd, i) + "\n" for i in range(rows))).encode()


def _png(rnd: random.Random, size: int = 32) -> bytes:
    """A small RGB PNG of coloured bands, written by hand (no imaging library needed)."""
    colours = [bytes(rnd.randrange(256) for _ in range(3)) for _ in range(4)]
    raw = b"".join(b"\x00" + colours[(y * 4) // size] * size for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def samples() -> list[tuple[DatasetCreate, dict[str, bytes]]]:
    rnd = random.Random(7)
    roads = ["Olympic-daero", "Gangbyeon-expwy", "Teheran-ro", "Jongno"]
    return [
        (
            DatasetCreate(
                name="traffic-seoul",
                title="Seoul road traffic, 5-minute counts",
                sector="automotive",
                tier="public",
                licence="CC-BY-4.0",
                tags=["traffic", "seoul", "timeseries"],
                card="# Seoul traffic\nVehicle counts and mean speed per road "
                "segment, every five minutes (synthetic).",
            ),
            {
                "counts.csv": _csv(
                    "time,road,vehicles,speed_kmh",
                    288,
                    lambda r, i: (
                        f"2026-11-02T{i // 12:02d}:{(i % 12) * 5:02d},{r.choice(roads)},"
                        f"{r.randint(20, 400)},{r.uniform(8, 95):.1f}"
                    ),
                    1,
                ),
                "frames/cam-01.png": _png(rnd),
                "frames/cam-02.png": _png(rnd),
            },
        ),
        (
            DatasetCreate(
                name="grid-load-jeonnam",
                title="Jeonnam grid load and solar output",
                sector="energy",
                tier="registered",
                licence="KOGL-1",
                tags=["grid", "solar", "timeseries"],
                card="# Grid load\nHourly load (MW) and solar generation "
                "for Jeonnam substations (synthetic).",
            ),
            {
                "load.csv": _csv(
                    "hour,substation,load_mw,solar_mw",
                    240,
                    lambda r, i: (
                        f"{i},{'SS-' + str(i % 5)},{r.uniform(50, 400):.1f},"
                        f"{max(0.0, 120 * (1 - abs((i % 24) - 12) / 6)):.1f}"
                    ),
                    2,
                )
            },
        ),
        (
            DatasetCreate(
                name="ehr-synthetic",
                title="Synthetic hospital admissions",
                sector="healthcare",
                tier="restricted",
                licence="research-only",
                tags=["ehr", "clinical"],
                card="# Synthetic EHR\nAdmissions with vital signs. Restricted: "
                "read it in a job of a project with a grant; outputs go "
                "through the airlock.",
            ),
            {
                "admissions.csv": _csv(
                    "patient_id,age,sex,heart_rate,sepsis",
                    500,
                    lambda r, i: (
                        f"P{i:05d},{r.randint(18, 95)},{r.choice('FM')},{r.randint(50, 150)},"
                        f"{int(r.random() < 0.1)}"
                    ),
                    3,
                )
            },
        ),
        (
            DatasetCreate(
                name="press-line-sensors",
                title="Stamping press vibration sensors",
                sector="manufacturing",
                tier="public",
                licence="CC-BY-4.0",
                tags=["sensors", "anomaly"],
                card="# Press line\nVibration and temperature per stroke, with "
                "labelled faults (synthetic).",
            ),
            {
                "strokes.csv": _csv(
                    "stroke,vibration_g,temp_c,fault",
                    400,
                    lambda r, i: (
                        f"{i},{r.gauss(1.0, 0.2):.3f},{r.uniform(30, 70):.1f},"
                        f"{int(r.random() < 0.03)}"
                    ),
                    4,
                )
            },
        ),
        (
            DatasetCreate(
                name="gwangju-heritage-images",
                title="Gwangju heritage photographs",
                sector="culture-content",
                tier="public",
                licence="CC-BY-NC-4.0",
                tags=["images", "heritage"],
                card="# Heritage images\nSmall images with captions (generated).",
            ),
            {
                "captions.csv": b"file,caption\nimg-1.png,Gate\nimg-2.png,Pavilion\n",
                "img-1.png": _png(rnd),
                "img-2.png": _png(rnd),
            },
        ),
        (
            DatasetCreate(
                name="gwangju-bus-stops",
                title="Gwangju bus stops",
                sector="public",
                tier="public",
                licence="KOGL-1",
                tags=["transport", "geo"],
                card="# Bus stops\nStop ids and coordinates (synthetic).",
            ),
            {
                "stops.csv": _csv(
                    "stop_id,lat,lon",
                    150,
                    lambda r, i: (
                        f"S{i:04d},{35.1 + r.random() / 10:.5f},{126.8 + r.random() / 10:.5f}"
                    ),
                    5,
                )
            },
        ),
        (
            DatasetCreate(
                name="ko-en-glossary",
                title="Korean-English technical glossary",
                sector="other",
                tier="public",
                licence="CC0-1.0",
                tags=["text", "nlp"],
                card="# Glossary\nTerm pairs for translation tests.",
            ),
            {"terms.tsv": "ko\ten\n가속기\taccelerator\n데이터\tdata\n모델\tmodel\n".encode()},
        ),
    ]


def seed_datasets(center: Center) -> list[tuple[str, str, str, str | None, str]]:
    """Publish what is missing of the samples; a steward user; (user, org, role, project,
    token) rows for the demo's token list."""
    if center.datasets is None:
        return []
    with center.db.read() as s:
        admin = s.scalars(select(User).where(User.role == Role.CENTER_ADMIN)).first()
        if admin is None:
            return []
        org = s.get_one(Organisation, admin.org_id)
        have_steward = s.scalar(select(User.id).where(User.username == STEWARD)) is not None
    if not have_steward:
        tenancy.create_user(center, STEWARD, org.name, Role.DATA_STEWARD)
    p = Principal(admin.id, admin.username, org.id, org.name, Role.CENTER_ADMIN, frozenset())
    for body, files in samples():
        try:
            if datasets.show(center, p, body.name).versions:
                continue
        except NotFound:
            datasets.create_dataset(center, p, body)
        decl = UploadCreate(files=[
            FileDecl(path=k, size=len(v), sha256=hashlib.sha256(v).hexdigest())
            for k, v in files.items()
        ])  # fmt: skip
        up = datasets_upload.start_upload(center, p, body.name, decl)
        for f in up.files:
            datasets_upload.put_chunk(center, p, body.name, up.upload_id, f.idx, 0, files[f.path])
        datasets_upload.commit(center, p, body.name, up.upload_id)
    token = auth.issue_token(center, STEWARD, DEMO_TOKEN_NAME)
    return [(STEWARD, org.name, str(Role.DATA_STEWARD), None, token)]
