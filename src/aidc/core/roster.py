"""A course roster as CSV (``username,email,full_name``): parsed and checked as a whole.

Every row is checked before anything is created, and every problem is reported with its
row and column, so an instructor fixes the file once. Rows are numbered as the file's
lines (the header is row 1), which is also what a spreadsheet shows.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass

from aidc.core.jobspec import NAME_RE

COLUMNS = ("username", "email", "full_name")
MAX_ROWS = 5000
MAX_CELL = 256
# Enough to fix a file in one go without flooding the terminal.
MAX_ERRORS = 50
# One "@" with something on each side and no spaces: typos, not RFC 5322.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+\Z")
EMPTY_FILE = f"the file is empty; its first line must be {','.join(COLUMNS)}"
USERNAME_RULE = "letters, digits, '.', '_' or '-', starting with a letter or digit, at most 63"


@dataclass(frozen=True, slots=True)
class RosterRow:
    row: int  # the row (line) of the file; the header is row 1
    username: str
    email: str
    full_name: str


@dataclass(frozen=True, slots=True)
class RosterError:
    row: int | None  # None: the file as a whole
    column: str | None  # None: the header, or the row as a whole
    message: str

    @property
    def field(self) -> str:
        """Where it is, as the API's error field: "row 3, email", "header", "csv"."""
        if self.row is None:
            return "header" if self.column is None else self.column
        return f"row {self.row}" if self.column is None else f"row {self.row}, {self.column}"

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class RosterInvalid(ValueError):
    """The roster is refused; ``errors`` says every place at fault (up to MAX_ERRORS)."""

    def __init__(self, errors: list[RosterError]) -> None:
        self.errors = errors[:MAX_ERRORS]
        more = len(errors) - len(self.errors)
        head = "; ".join(str(e) for e in self.errors[:3])
        rest = len(errors) - 3
        super().__init__(
            f"the roster is refused, nothing was created: {head}"
            + (f" (and {rest} more)" if rest > 0 else "")
            + (f"; {more} not shown" if more > 0 else "")
        )


def parse_roster(text: str, *, project_prefix: str | None = None) -> list[RosterRow]:
    """The students of ``text``, or RosterInvalid naming each row and column at fault.

    ``project_prefix``: each student gets the project ``<prefix>-<username>``, which must
    itself be a valid name (so a long course name leaves less room for usernames).
    """
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")), strict=True)
    errors: list[RosterError] = []
    try:
        header = next(reader, None)
        while header is not None and not any(c.strip() for c in header):
            header = next(reader, None)  # blank lines before the header
        if header is None:
            raise RosterInvalid([RosterError(None, None, EMPTY_FILE)])
        index = _header(header, errors)
        rows: list[RosterRow] = []
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue  # blank lines (spreadsheets often leave some at the end)
            if len(rows) >= MAX_ROWS:
                errors.append(
                    RosterError(None, "csv", f"more than {MAX_ROWS} students; split the file")
                )
                break
            row = reader.line_num
            if index is None:
                continue
            if len(cells) != len(header):
                errors.append(
                    RosterError(
                        row,
                        None,
                        f"has {len(cells)} cells but the header has {len(header)} "
                        "(a comma inside a name needs the cell in double quotes)",
                    )
                )
                continue
            values = {col: cells[i].strip() for col, i in index.items()}
            rows.append(RosterRow(row, values["username"], values["email"], values["full_name"]))
    except csv.Error as e:
        errors.append(RosterError(reader.line_num or None, None, f"is not valid CSV ({e})"))
        raise RosterInvalid(errors) from None
    if index is not None and not rows and not errors:
        errors.append(RosterError(None, "csv", "the roster has no students"))
    for r in rows:
        errors.extend(_cell_errors(r, project_prefix))
    errors.extend(_duplicates(rows))
    if errors:
        errors.sort(
            key=lambda e: (e.row or 0, COLUMNS.index(e.column) if e.column in COLUMNS else -1)
        )
        raise RosterInvalid(errors)
    return rows


def format_roster(rows: list[tuple[str, str, str]]) -> str:
    """CSV text of (username, email, full_name) rows with the header: what parse reads."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    w.writerows(rows)
    return buf.getvalue()


def _header(header: list[str], errors: list[RosterError]) -> dict[str, int] | None:
    names = [h.strip().lower() for h in header]
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        if name not in COLUMNS:
            shown = repr(header[i].strip()) if name else f"number {i + 1} (unnamed)"
            errors.append(
                RosterError(
                    None,
                    None,
                    f"unexpected column {shown}; a roster has exactly the columns "
                    f"{','.join(COLUMNS)} (remove the others)",
                )
            )
        elif name in index:
            errors.append(RosterError(None, None, f"column {name!r} appears twice"))
        else:
            index[name] = i
    for col in COLUMNS:
        if col not in index:
            errors.append(
                RosterError(
                    None, None, f"no {col!r} column; the first line must be {','.join(COLUMNS)}"
                )
            )
    return None if errors else index


def _cell_errors(r: RosterRow, project_prefix: str | None) -> list[RosterError]:
    out: list[RosterError] = []
    for col in COLUMNS:
        value: str = getattr(r, col)
        if not value:
            out.append(RosterError(r.row, col, "is empty; every student needs one"))
        elif len(value) > MAX_CELL:
            out.append(RosterError(r.row, col, f"is longer than {MAX_CELL} characters"))
        elif any(unicodedata.category(ch) == "Cc" for ch in value):
            out.append(RosterError(r.row, col, "contains control characters (tabs, newlines)"))
    if r.username and not NAME_RE.match(r.username):
        out.append(
            RosterError(r.row, "username", f"{r.username!r} is not a username: {USERNAME_RULE}")
        )
    elif r.username and project_prefix and not NAME_RE.match(f"{project_prefix}-{r.username}"):
        out.append(
            RosterError(
                r.row,
                "username",
                f"the student's project {project_prefix}-{r.username} would be longer than "
                "63 characters; use a shorter username",
            )
        )
    if r.email and not EMAIL_RE.match(r.email) and len(r.email) <= MAX_CELL:
        out.append(RosterError(r.row, "email", f"{r.email!r} is not an email address"))
    # One message per cell: the first problem found is the one to fix.
    first: dict[str | None, RosterError] = {}
    for e in out:
        first.setdefault(e.column, e)
    return list(first.values())


def _duplicates(rows: list[RosterRow]) -> list[RosterError]:
    """The later of two rows with one username (case aside) or one email is at fault."""
    out: list[RosterError] = []
    for col in ("username", "email"):
        first: dict[str, int] = {}
        for r in rows:
            value = str(getattr(r, col))
            key = value.lower()
            if not key:
                continue
            if key in first:
                out.append(RosterError(r.row, col, f"{value!r} is also on row {first[key]}"))
            else:
                first[key] = r.row
    return out
