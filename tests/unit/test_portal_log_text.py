"""The live log never shows half a character: a chunk ends before a cut UTF-8 sequence."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aidc.portal.routes.jobs import whole_characters


def test_a_cut_korean_character_waits_for_the_next_read() -> None:
    text = "로그 한 줄\n".encode()
    assert whole_characters(text) == text
    assert whole_characters(text[:-2]) == "로그 한 ".encode()  # "줄" cut after 1 of 3 bytes
    assert whole_characters(text[:-3]) == "로그 한 ".encode()
    assert whole_characters(b"") == b""


@given(st.text(), st.integers(min_value=0, max_value=400))
def test_the_kept_part_decodes_and_nothing_is_lost(text: str, cut: int) -> None:
    data = text.encode()
    head = whole_characters(data[:cut])
    head.decode("utf-8")  # never raises
    assert data.startswith(head)
    assert len(data[:cut]) - len(head) <= 3
    # Read on from where the kept part ends: the rest decodes too.
    data[len(head) :].decode("utf-8")
