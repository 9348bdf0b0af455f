"""What every trace loader shares: the node shape, the error, the skip report, CSV reading.

A loader turns rows into ``SimJob``s as it reads them. A row it cannot read at all (a word
where a number belongs, a missing column) is a mistake in the file and stops the load with a
``TraceError`` naming the file, line (or JSON job index) and column. A row that is well
formed but is no job to replay (never started, no accelerators) is skipped and counted in a
``LoadReport`` by reason, so the caller can say how much of the trace did not run.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from aidc.core.resources import Request
from aidc.sim.driver import SimJob
from aidc.sim.limits import LimitDrawer, LimitModel


@dataclass(frozen=True, slots=True)
class NodeShape:
    """What one node of the simulated cluster has, to turn trace sizes into requests.

    ``accelerator_type`` "" accepts any type (a heterogeneous cluster such as Alibaba's).
    """

    accelerators: int = 8
    accelerator_type: str = "a100"
    cpus_per_accelerator: int = 4
    memory_mib_per_accelerator: int = 32 * 1024

    def request(self, accelerators: int, types: tuple[str, ...] | None = None) -> Request:
        """``accelerators`` in all: on one node if they fit, else a gang of whole nodes."""
        per, nodes = accelerators, 1
        if accelerators > self.accelerators:
            nodes = -(-accelerators // self.accelerators)
            per = self.accelerators
        return self.gang(nodes, per, types)

    def gang(self, nodes: int, per_node: int, types: tuple[str, ...] | None = None) -> Request:
        """``nodes`` nodes of ``per_node`` accelerators each, cpus and memory in proportion."""
        if types is None:
            types = (self.accelerator_type,) if self.accelerator_type else ()
        return Request(
            nodes,
            max(1, per_node * self.cpus_per_accelerator),
            max(1024, per_node * self.memory_mib_per_accelerator),
            per_node,
            types if per_node else (),
        )


class TraceError(ValueError):
    """A row the loader cannot read: the file, the line and what is wrong."""


@dataclass
class LoadReport:
    """What a load left out or changed, counted by reason (a trace may have millions of
    rows: reasons are few, so counts stay small; the first few places are kept as examples).
    """

    loaded: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    adjusted: Counter[str] = field(default_factory=Counter)  # loaded, but changed (why)
    examples: dict[str, list[str]] = field(default_factory=dict)
    keep_examples: int = 3

    def skip(self, where: str, reason: str) -> None:
        self.skipped[reason] += 1
        self._example(where, reason)

    def adjust(self, where: str, reason: str) -> None:
        self.adjusted[reason] += 1
        self._example(where, reason)

    def _example(self, where: str, reason: str) -> None:
        seen = self.examples.setdefault(reason, [])
        if len(seen) < self.keep_examples:
            seen.append(where)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def lines(self) -> list[str]:
        """One line per reason, most frequent first, for a command's output."""
        out = [f"{self.loaded} jobs loaded"]
        for label, counts in (("skipped", self.skipped), ("adjusted", self.adjusted)):
            for reason, n in counts.most_common():
                out.append(f"{n} {label}: {reason} (e.g. {', '.join(self.examples[reason])})")
        return out


class Loader(Protocol):
    """A trace format: reads ``path`` and yields its jobs in file order."""

    def __call__(
        self,
        path: Path,
        shape: NodeShape,
        limits: LimitModel | None = None,
        *,
        report: LoadReport | None = None,
    ) -> Iterator[SimJob]: ...


def rows(
    path: Path, needed: Sequence[str], header: Sequence[str] | None = None
) -> Iterator[tuple[str, dict[str, str]]]:
    """``(where, row)`` of a CSV file, ``where`` being ``file:line``. With ``header``, the
    file may have that header row or none (the first line is then data): Alibaba's files
    ship without one."""
    try:
        f = path.open(newline="")
    except FileNotFoundError:
        raise TraceError(f"{path}: no such file") from None
    with f:
        if header is None:
            reader = csv.DictReader(f)
            missing = [c for c in needed if c not in (reader.fieldnames or ())]
            if missing:
                raise TraceError(
                    f"{path}: no column {', '.join(missing)} (has {reader.fieldnames})"
                )
        else:
            first = f.readline()
            has_header = first.strip().split(",")[: len(header)] == list(header)
            f.seek(0)
            reader = csv.DictReader(f, fieldnames=list(header))
            if has_header:
                next(reader)
        for row in reader:
            if None in row:  # more fields than the header names
                extra = row[None]
                raise TraceError(
                    f"{path}:{reader.line_num}: {len(row) - 1 + len(extra)} fields, "
                    f"expected {len(reader.fieldnames or ())}"
                )
            yield f"{path}:{reader.line_num}", row


def number(where: str, row: dict[str, str], column: str) -> float:
    """``row[column]`` as a number >= 0, or a TraceError naming the place (``where``:
    ``file:line``, or a JSON job's index and position)."""
    raw = row.get(column)
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TraceError(f"{where}: {column} {raw!r} is not a number") from None
    if math.isnan(value) or value < 0:
        raise TraceError(f"{where}: {column} is negative or NaN ({raw!r})")
    return value


def count(where: str, row: dict[str, str], column: str, least: int = 1) -> int:
    value = number(where, row, column)
    if value != int(value) or value < least:
        raise TraceError(f"{where}: {column} {row[column]!r} is not a count of {least} or more")
    return int(value)


def blank(raw: object) -> bool:
    """An absent value as traces write it: empty, null, None, NaN."""
    return raw is None or str(raw).strip().lower() in ("", "none", "null", "nan")


TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def timestamp(where: str, column: str, raw: str) -> float:
    """``YYYY-MM-DD HH:MM:SS`` (read as UTC: only differences matter) or seconds."""
    try:
        return float(raw)
    except ValueError:
        pass
    text = raw.strip()
    try:
        if len(text) == 19 and text[10] == " ":
            # fromisoformat reads this shape in C (strptime takes most of a load's time)
            when = dt.datetime.fromisoformat(text)
            if when.tzinfo is not None:
                raise ValueError(text)
        else:
            when = dt.datetime.strptime(text, TIME_FORMAT)
    except ValueError:
        raise TraceError(
            f"{where}: {column} {raw!r} is not YYYY-MM-DD HH:MM:SS or seconds"
        ) from None
    return when.replace(tzinfo=dt.UTC).timestamp()


def limit_drawer(limits: LimitModel | None) -> LimitDrawer:
    return (limits or LimitModel()).limits()
