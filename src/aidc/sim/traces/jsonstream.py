"""A top-level JSON list read one element at a time, without a dependency.

Philly's ``cluster_job_log`` is one JSON list of about 100,000 jobs (hundreds of MB);
``json.load`` would hold all of it as objects at once. This reader keeps a text buffer of a
few chunks, decodes one element with ``json.JSONDecoder.raw_decode`` and drops the text it
used. An element cut by the chunk boundary fails to decode: more text is read and the decode
retried (elements are small, so the retries cost little). At the end of the file a failed
decode is a real mistake and is reported with the element's index, line and column.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

from aidc.sim.traces.common import TraceError

CHUNK = 1 << 16
_SPACE = " \t\r\n"


def json_list(path: Path, chunk: int = CHUNK) -> Iterator[tuple[int, str, object]]:
    """``(index, "line L, column C", element)`` of the list the file holds, in order."""
    decoder = json.JSONDecoder()
    try:
        f = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise TraceError(f"{path}: no such file") from None
    with f:
        reader = _Buffer(f.read, chunk)
        if reader.next_char() != "[":
            raise TraceError(f"{path}: {reader.where()}: expected a JSON list starting with [")
        reader.pos += 1
        index = 0
        if reader.next_char() == "]":
            return
        while True:
            reader.next_char()
            where = reader.where()
            while True:
                try:
                    value, end = decoder.raw_decode(reader.text, reader.pos)
                    # A number cut by the chunk boundary decodes short: make sure a
                    # separator follows before trusting it.
                    if reader.peek_after(end) is None and not reader.eof:
                        raise ValueError("need more text")
                    break
                except ValueError as e:
                    if reader.eof:
                        raise TraceError(
                            f"{path}: job {index} ({where}): not valid JSON: {e}"
                        ) from None
                    reader.more()
            reader.pos, reader.chunk = end, chunk
            yield index, where, value
            index += 1
            sep = reader.next_char()
            if sep == "]":
                return
            if sep != ",":
                raise TraceError(
                    f"{path}: after job {index - 1} ({reader.where()}): expected , or ] "
                    f"but found {sep or 'the end of the file'!r}"
                )
            reader.pos += 1
            reader.compact()


class _Buffer:
    """The unread text and where it lies in the file (for line and column numbers)."""

    def __init__(self, read: Callable[[int], str], chunk: int) -> None:
        self._read = read
        self.chunk = chunk
        self.text = ""
        self.pos = 0
        self.eof = False
        self.line = 1  # of text[0]
        self.column = 1

    def more(self) -> None:
        data = self._read(self.chunk)
        if not data:
            self.eof = True
        self.text += data
        # Read more each time a long element keeps failing, so retries stay few.
        self.chunk *= 2

    def next_char(self) -> str:
        """The next non-space character ("" at the end), leaving ``pos`` on it."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in _SPACE:
                self.pos += 1
            if self.pos < len(self.text):
                return self.text[self.pos]
            if self.eof:
                return ""
            self.more()

    def peek_after(self, end: int) -> str | None:
        for c in self.text[end:]:
            if c not in _SPACE:
                return c
        return None

    def compact(self) -> None:
        """Drop the text already used, keeping line and column of what is left."""
        used = self.text[: self.pos]
        newlines = used.count("\n")
        if newlines:
            self.line += newlines
            self.column = len(used) - used.rfind("\n")
        else:
            self.column += len(used)
        self.text, self.pos = self.text[self.pos :], 0

    def where(self) -> str:
        before = self.text[: self.pos]
        newlines = before.count("\n")
        if newlines:
            return f"line {self.line + newlines}, column {len(before) - before.rfind(chr(10))}"
        return f"line {self.line}, column {self.column + len(before)}"
