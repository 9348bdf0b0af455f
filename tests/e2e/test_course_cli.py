"""A course through the real CLI and server: create it, import a roster, students use it."""

from __future__ import annotations

import csv
import datetime as dt
import json
import time
from pathlib import Path

import httpx

from aidc.store.db import Database
from aidc.store.models_allocations import Program
from tests.server_process import ServerProcess

UNI = "Chonnam National University"


def add_education_program(db_url: str, now: float) -> None:
    # Programs are another part's API; the course only needs the row.
    db = Database(db_url)
    try:
        with db.transaction() as s:
            s.add(
                Program(
                    name="edu-2027", kind="education", description="", starts_at=now - 86400,
                    ends_at=now + 365 * 86400, eligible_kinds=[], budget_hours={"a100": 100.0},
                    storage_budget_gb=0.0, rules={}, cohort_id=None, created_at=now,
                    created_by="test",
                )
            )  # fmt: skip
    finally:
        db.dispose()


def test_a_course_from_roster_file_to_a_students_job(server: ServerProcess, tmp_path: Path) -> None:
    now = time.time()
    add_education_program(server.db_url, now)
    starts = dt.datetime.fromtimestamp(now - 3600, dt.UTC).isoformat()
    ends = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    r = server.cli(
        "course", "create", "ml101", "--org", UNI, "--program", "edu-2027",
        "--instructor", "prof-kim", "--starts", starts, "--ends", ends, "--hours", "a100=10",
        "--quota", "a100=1", "--dataset", "grid-load-jeonnam", "--title", "Machine learning",
        user="prof-kim",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "created course ml101" in r.stdout

    bad = tmp_path / "bad.csv"
    bad.write_text("username,email,full_name\nkim,kim@jnu.ac.kr,Kim\nlee lee,l@jnu.ac.kr,Lee\n")
    r = server.cli("course", "import-roster", "ml101", str(bad), user="prof-kim")
    assert r.returncode == 2 and "row 3, username" in r.stderr, r.stderr

    roster = tmp_path / "roster.csv"
    roster.write_text(
        'username,email,full_name\nkim,kim@jnu.ac.kr,"Kim, Minji"\npark,p@jnu.ac.kr,박지성\n',
        encoding="utf-8",
    )
    out = tmp_path / "tokens.csv"
    r = server.cli(
        "course", "import-roster", "ml101", str(roster), "--out", str(out), user="prof-kim"
    )
    assert r.returncode == 0, r.stderr
    assert "2 students added to ml101" in r.stdout
    assert out.stat().st_mode & 0o777 == 0o600
    tokens = {row["username"]: row["token"] for row in csv.DictReader(out.open())}
    assert set(tokens) == {"kim", "park"}

    # A student's token from the file works for whoami and submit, to their project only.
    r = server.cli("whoami", "--json", user=tokens["kim"])
    assert r.returncode == 0, r.stderr
    me = json.loads(r.stdout)
    assert (me["username"], me["organisation"]) == ("kim", UNI)
    assert [p["name"] for p in me["projects"]] == ["ml101-kim"]
    r = server.cli(
        "submit", "-p", "ml101-kim", "--gpus", "1", "--gpu-type", "a100", "--wait", "--",
        "sh", "-c", "echo hello student", user=tokens["kim"],
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert server.cli("logs", r.stdout.split()[0], user=tokens["kim"]).stdout == "hello student\n"
    r = server.cli("submit", "-p", "ml101-park", "--", "true", user=tokens["kim"])
    assert r.returncode == 2 and "project" in r.stderr
    # The course shares a registered dataset: a student's job reads it, and so does a preview.
    r = server.cli(
        "submit", "-p", "ml101-kim", "--dataset", "grid-load-jeonnam@1:/data", "--wait", "--",
        "sh", "-c", 'head -n 1 "$AIDC_DATASET_GRID_LOAD_JEONNAM/load.csv"', user=tokens["kim"],
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    log = server.cli("logs", r.stdout.split()[0], user=tokens["kim"]).stdout
    assert log.startswith("hour,substation,"), log
    r = server.cli("dataset", "preview", "grid-load-jeonnam", "load.csv", user=tokens["kim"])
    assert r.returncode == 0 and "substation" in r.stdout, r.stdout + r.stderr

    # The instructor sees every student; a student only themself.
    shown = json.loads(server.cli("course", "show", "ml101", "--json", user="prof-kim").stdout)
    assert [s["username"] for s in shown["students"]] == ["kim", "park"]
    assert shown["students"][1]["full_name"] == "박지성"
    assert shown["students"][0]["credits"][0]["granted_hours"] == 10
    text = server.cli("course", "show", "ml101", user="prof-kim").stdout
    assert "per student: 10 a100-hours" in text and "datasets: grid-load-jeonnam" in text, text
    assert "ml101-park" in text and "0/10 a100-h" in text
    r = server.cli("course", "show", "ml101", "--json", user=tokens["park"])
    assert [s["username"] for s in json.loads(r.stdout)["students"]] == ["park"]
    assert "ml101" not in server.cli("course", "list", user="minji").stdout  # another org
    assert "ml101" in server.cli("course", "list", user="admin").stdout

    # Re-importing adds only the new; the JSON form of the API takes the CSV too.
    more = "username,email,full_name\nkim,kim@jnu.ac.kr,Kim\nchoi,c@jnu.ac.kr,Choi\n"
    resp = httpx.post(
        f"{server.url}/v1/courses/ml101/roster",
        json={"csv": more},
        headers={"Authorization": f"Bearer {server.tokens['prof-kim']}"},
    )
    assert resp.status_code == 200, resp.text
    assert [s["username"] for s in resp.json()["added"]] == ["choi"]
    assert resp.json()["already_enrolled"] == ["kim"]
    r = server.cli("course", "students", "ml101", user="prof-kim")
    assert r.returncode == 0 and "choi" in r.stdout and "ml101-park" in r.stdout
    # Without --out the tokens CSV is all that goes to stdout.
    (tmp_path / "one.csv").write_text("username,email,full_name\nyoon,y@jnu.ac.kr,Yoon\n")
    r = server.cli("course", "import-roster", "ml101", str(tmp_path / "one.csv"), user="prof-kim")
    assert r.returncode == 0 and r.stdout.startswith("username,token\nyoon,aidc_"), r.stdout
