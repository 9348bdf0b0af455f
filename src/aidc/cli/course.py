"""`aidc course`: courses of education programs, their rosters and students."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from aidc.cli.output import err, errors, fail, out, when
from aidc.client import Client
from aidc.schemas_courses import CourseView, StudentView

app = typer.Typer(no_args_is_help=True, help="Courses: rosters of students with small grants.")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
CourseArg = Annotated[str, typer.Argument(help="The course's name.")]


@app.command("create")
def create(
    name: CourseArg,
    organisation: Annotated[str, typer.Option("--org", help="The organisation giving it.")],
    program: Annotated[str, typer.Option(help="An education program.")],
    instructor: Annotated[str, typer.Option(help="A user of that organisation.")],
    starts: Annotated[str, typer.Option(help="Start: 2027-03-02, an ISO time, or POSIX s.")],
    ends: Annotated[str, typer.Option(help="End: a date means the end of that day.")],
    hours: Annotated[
        list[str], typer.Option("--hours", help="Per student: RESOURCE=HOURS (a100=20, pf=5).")
    ],
    quota: Annotated[
        list[str] | None, typer.Option("--quota", help="Per student: TYPE=DEVICES (a100=1).")
    ] = None,
    dataset: Annotated[
        list[str] | None, typer.Option("--dataset", help="A dataset shared with the students.")
    ] = None,
    title: Annotated[str, typer.Option(help="The course's title.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Create a course of an education program.

    e.g. `aidc course create ml101 --org "Chonnam National University" --program edu-2027
    --instructor prof-kim --starts 2027-03-02 --ends 2027-06-30 --hours a100=20 --quota a100=1`
    """
    body = {
        "name": name,
        "title": title,
        "organisation": organisation,
        "program": program,
        "instructor": instructor,
        "starts_at": parse_time(starts, "--starts", end_of_day=False),
        "ends_at": parse_time(ends, "--ends", end_of_day=True),
        "student_hours": _pairs(hours, "--hours"),
        "student_quota": _pairs(quota or [], "--quota"),
        "datasets": dataset or [],
    }
    with errors(), Client.from_config() as c:
        course = c.create_course(**body)
    if as_json:
        out.print_json(course.model_dump_json())
        return
    out.print(f"created course {escape(course.name)}: {_period(course)}")


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Courses you may see."""
    with errors(), Client.from_config() as c:
        found = c.courses()
    if as_json:
        out.print_json(json.dumps([x.model_dump(mode="json") for x in found]))
        return
    table = Table(box=None, header_style="bold")
    for col in ("COURSE", "TITLE", "ORGANISATION", "PROGRAM", "INSTRUCTOR", "PERIOD"):
        table.add_column(col)
    table.add_column("STUDENTS", justify="right")
    for x in found:
        table.add_row(
            escape(x.name),
            escape(x.title),
            escape(x.organisation),
            escape(x.program),
            escape(x.instructor),
            _period(x),
            str(x.student_count),
        )
    out.print(table)


@app.command("show")
def show(name: CourseArg, as_json: JsonOpt = False) -> None:
    """The course, what each student gets, and their students' credit use."""
    with errors(), Client.from_config() as c:
        x = c.course(name)
    if as_json:
        out.print_json(x.model_dump_json())
        return
    out.print(f"[bold]{escape(x.name)}[/] {escape(x.title)}")
    out.print(f"  {escape(x.organisation)}, program {escape(x.program)}")
    out.print(f"  instructor {escape(x.instructor)}; {_period(x)}")
    out.print(f"  per student: {_amounts(x.student_hours, '-hours')}")
    if x.student_quota:
        out.print(f"  concurrent devices per student: {_amounts(x.student_quota, '')}")
    if x.datasets:
        out.print(f"  datasets: {escape(', '.join(x.datasets))}")
    out.print(f"  {x.student_count} students")
    if x.students:
        out.print(_students_table(x.students))


@app.command("students")
def students(name: CourseArg, as_json: JsonOpt = False) -> None:
    """The course's students, their projects and credit use."""
    with errors(), Client.from_config() as c:
        found = c.course_students(name)
    if as_json:
        out.print_json(json.dumps([x.model_dump(mode="json") for x in found]))
        return
    out.print(_students_table(found))


@app.command("import-roster")
def import_roster(
    name: CourseArg,
    file: Annotated[Path, typer.Argument(help="CSV: username,email,full_name.")],
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Write the new students' tokens here (default: stdout)."),
    ] = None,
) -> None:
    """Enrol the students of a CSV file (all rows or none); print their tokens.

    The new students' tokens come as CSV (username,token), on stdout or into --out, and are
    shown this once.
    """
    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as e:
        fail(f"{file}: cannot read it ({e.strerror})")
    except UnicodeDecodeError:
        fail(f"{file}: not UTF-8 text; save the CSV as UTF-8")
    if out_file is not None and out_file.exists():
        fail(f"--out: {out_file} exists; tokens are shown once, so pick a new file")
    with errors(), Client.from_config() as c:
        r = c.import_roster(name, text)
    summary = (
        f"{len(r.added)} students added to {r.course}"
        + (f", {len(r.already_enrolled)} already enrolled" if r.already_enrolled else "")
        + (f": {', '.join(s.username for s in r.added)}" if r.added else "")
    )
    if out_file is None:
        # The CSV alone on stdout, so that `> tokens.csv` keeps just it.
        err.print(escape(summary))
        sys.stdout.write(r.tokens_csv)
        return
    fd = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(r.tokens_csv)
    out.print(escape(summary))
    out.print(f"tokens written to {escape(str(out_file))} (hand them out; shown only once)")


def parse_time(text: str, option: str, *, end_of_day: bool) -> float:
    """POSIX seconds from a number, an ISO date (its start, or with ``end_of_day`` the next
    midnight) or an ISO time; dates and times without an offset are in local time."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            fail(f"{option}: {text!r} is not a date (2027-03-02) or an ISO time")
        return (moment if moment.tzinfo else moment.astimezone()).timestamp()
    if end_of_day:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time()).astimezone().timestamp()


def _pairs(items: list[str], option: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            if not sep or not key:
                raise ValueError
            found[key.strip()] = float(value)
        except ValueError:
            fail(f"{option}: {item!r} is not RESOURCE=NUMBER (e.g. a100=20)")
    return found


def _period(x: CourseView) -> str:
    return f"{when(x.starts_at)} to {when(x.ends_at)}"


def _amounts(m: dict[str, float], unit: str) -> str:
    return ", ".join(f"{v:g} {k}{unit}" for k, v in sorted(m.items())) or "-"


def _students_table(found: list[StudentView]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("USERNAME", "FULL NAME", "EMAIL", "PROJECT", "ALLOCATION", "USED / GRANTED"):
        table.add_column(col)
    for x in found:
        used = ", ".join(
            f"{c.used_hours:.4g}/{c.granted_hours:g} {c.resource}-h" for c in x.credits
        )
        table.add_row(
            escape(x.username),
            escape(x.full_name),
            escape(x.email),
            escape(x.project),
            x.allocation_state,
            used or "-",
        )
    return table
