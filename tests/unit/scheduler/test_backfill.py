"""EASY backfill and its fifo (no backfill) counterpart."""

from __future__ import annotations

from aidc.core.policy import Ordering, Policy, preset
from tests.unit.scheduler.build import NOW, admitted, gpu_node, pending, run, running, why

NODES = [gpu_node("n1"), gpu_node("n2")]
# n1: 6 of 8 busy until t=2000; n2: 4 busy until t=5000.
ACTIVE = [
    running("r1", "n1", tuple(range(6)), started=0, limit=2000),
    running("r2", "n2", tuple(range(4)), started=0, limit=5000),
]


def test_blocked_head_gets_a_reservation_with_an_estimated_start() -> None:
    p = run(NODES, [pending("big", 8, at=0, seq=1)], ACTIVE)
    (r,) = p.reservations
    assert (r.job_id, r.start_at, r.nodes) == ("big", 2000, ("n1",))
    (w,) = p.waiting
    assert w.estimated_start == 2000 and "reserved n1" in w.message


def test_backfill_never_delays_the_reservation() -> None:
    queue = [
        pending("big", 8, at=0, seq=1),
        pending("long", 2, at=1, seq=2, limit=5000),  # ends after 2000: keeps off n1 -> n2
        pending("long2", 2, at=2, seq=3, limit=5000),  # n2's last two
        pending("long3", 2, at=3, seq=4, limit=5000),  # only n1 is left, and it is reserved
        pending("short", 2, at=4, seq=5, limit=500),  # ends at 1500 < 2000: may use n1
    ]
    # Submission order, with backfill on (the fairshare preset's default).
    p = run(NODES, queue, ACTIVE, policy=Policy(ordering=Ordering.FIFO))
    placed = {d.job_id: d.placement.nodes[0].node for d in p.admit}
    assert placed == {"long": "n2", "long2": "n2", "short": "n1"}
    assert why(p, "long3") == (
        "reserved: free capacity is reserved for job big, which starts in 1000s; "
        "this job's time limit (5000s) runs past that"
    )
    assert p.reservations[0].start_at == 2000
    assert p.reservations[0].start_at >= NOW + 500


def test_without_backfill_nothing_passes_a_blocked_job() -> None:
    queue = [pending("big", 8, at=0, seq=1), pending("short", 1, at=1, seq=2, limit=10)]
    p = run(NODES, queue, ACTIVE, policy=preset("fifo"))
    assert admitted(p) == []
    assert why(p, "short") == "priority: job big waits ahead of it for these nodes (no backfill)"


def test_fifo_blocking_is_per_accelerator_type() -> None:
    nodes = [*NODES, gpu_node("h1", kind="h100")]
    queue = [pending("big", 8, at=0, seq=1), pending("h", 1, at=1, seq=2, types=("h100",))]
    p = run(nodes, queue, ACTIVE, policy=preset("fifo"))
    assert admitted(p) == ["h"]
