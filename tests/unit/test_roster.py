"""The roster parser: valid rosters round-trip; any one bad cell is refused at its row."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aidc.core.roster import RosterInvalid, format_roster, parse_roster

NAME_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
usernames = st.builds(
    lambda a, b: a + b,
    st.sampled_from(NAME_START),
    st.text(NAME_START + "._-", max_size=20),
)
emails = st.builds(
    lambda user, host, tld: f"{user}@{host}.{tld}",
    st.text(NAME_START + "._+-", min_size=1, max_size=12),
    st.text(NAME_START + "-", min_size=1, max_size=12),
    st.sampled_from(["kr", "ac.kr", "org", "com"]),
)
# Korean and Latin names, with the commas and quotes that CSV must quote.
full_names = (
    st.text(
        st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")),
        min_size=1,
        max_size=40,
    )
    .map(str.strip)
    .filter(bool)
)


@st.composite
def rosters(draw: st.DrawFn) -> list[tuple[str, str, str]]:
    names = draw(st.lists(usernames, min_size=1, max_size=12, unique_by=str.lower))
    mails = draw(st.lists(emails, min_size=len(names), max_size=len(names), unique_by=str.lower))
    return [(u, e, draw(full_names)) for u, e in zip(names, mails, strict=True)]


@given(rosters())
def test_any_valid_roster_parses_to_its_rows(rows: list[tuple[str, str, str]]) -> None:
    parsed = parse_roster(format_roster(rows), project_prefix="ml101")
    assert [(r.username, r.email, r.full_name) for r in parsed] == rows
    assert [r.row for r in parsed] == list(range(2, len(rows) + 2))  # header is row 1


def corrupt(value: str, column: str, kind: str, earlier: tuple[str, str, str] | None) -> str:
    if kind == "empty":
        return " "
    if kind == "control":
        return value[:1] + "\x07" + value[1:]
    if kind == "duplicate" and earlier is not None and column != "full_name":
        return earlier[("username", "email").index(column)].upper()
    return {"username": value + " x", "email": value.replace("@", " at "), "full_name": ""}[column]


@given(
    rosters(),
    st.data(),
    st.sampled_from(["username", "email", "full_name"]),
    st.sampled_from(["empty", "malformed", "control", "duplicate"]),
)
def test_any_single_corrupted_cell_is_refused_naming_its_row(
    rows: list[tuple[str, str, str]], data: st.DataObject, column: str, kind: str
) -> None:
    k = data.draw(st.integers(0, len(rows) - 1))
    earlier = rows[data.draw(st.integers(0, k - 1))] if k > 0 else None
    col = ("username", "email", "full_name").index(column)
    bad = list(rows[k])
    bad[col] = corrupt(bad[col], column, kind, earlier)
    broken = [*rows[:k], (bad[0], bad[1], bad[2]), *rows[k + 1 :]]
    if broken == rows:
        return  # a "duplicate" of the first row, or of a full name: nothing to corrupt
    with pytest.raises(RosterInvalid) as e:
        parse_roster(format_roster(broken), project_prefix="ml101")
    assert (k + 2, column) in {(x.row, x.column) for x in e.value.errors}
    assert f"row {k + 2}, {column}" in str(e.value)


def test_the_header_must_be_exactly_the_three_columns() -> None:
    with pytest.raises(RosterInvalid) as e:
        parse_roster("username,email,full_name,phone\nkim,k@x.kr,Kim,010\n")
    assert e.value.errors[0].field == "header"
    assert "unexpected column 'phone'" in str(e.value) and "remove the others" in str(e.value)
    with pytest.raises(RosterInvalid, match="no 'email' column"):
        parse_roster("username,full_name\nkim,Kim\n")
    with pytest.raises(RosterInvalid, match="file is empty"):
        parse_roster("\n\n")
    with pytest.raises(RosterInvalid, match="no students"):
        parse_roster("username,email,full_name\n")


def test_rows_may_come_in_any_column_order_with_a_bom_and_blank_lines() -> None:
    text = '\ufeffEmail, Username ,full_name\r\n\r\nk@x.kr,kim,"Kim, Minji"\r\n\r\n'
    (row,) = parse_roster(text)
    assert (row.row, row.username, row.email, row.full_name) == (3, "kim", "k@x.kr", "Kim, Minji")


def test_a_row_with_too_many_cells_is_named() -> None:
    with pytest.raises(RosterInvalid) as e:
        parse_roster("username,email,full_name\nkim,k@x.kr,Kim,Minji\n")
    assert e.value.errors[0].field == "row 2" and "double quotes" in e.value.errors[0].message


def test_a_long_course_name_leaves_less_room_for_usernames() -> None:
    prefix = "c" * 50
    parse_roster("username,email,full_name\nkim,k@x.kr,Kim\n", project_prefix=prefix)
    with pytest.raises(RosterInvalid, match="longer than 63"):
        parse_roster(f"username,email,full_name\n{'k' * 13},k@x.kr,Kim\n", project_prefix=prefix)
