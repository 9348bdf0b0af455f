"""Fitting: where a job goes on named nodes and devices.

Single-node jobs are packed best-fit (the node with the fewest free devices that still
fits), which keeps whole nodes free for large jobs; fragmentation is the main waste in real
GPU clusters. ``spread`` takes the emptiest node instead. A multi-node job is a gang: the
same per-node request on ``nodes`` distinct nodes of one pool, all or nothing, preferring
nodes that share a rack (the node label named by the policy), and only one rack when the job
asks for ``same_rack``.

Nodes are indexed by accelerator type and number of free devices, so a placement looks at
the few buckets that can fit instead of every node.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable

from aidc.core.resources import Node, NodePlacement, NodeState, Placement, Request
from aidc.scheduler.free import FreeNode, free_capacity
from aidc.scheduler.snapshot import RunningJob

CPU = "cpu"


class Capacity:
    """Free capacity of the cluster during one planning pass."""

    def __init__(
        self, nodes: tuple[Node, ...], running: tuple[RunningJob, ...], topology_label: str
    ) -> None:
        self.free = free_capacity(nodes, running)
        self.label = topology_label
        # type -> free device count -> names of the nodes, in name order (bisect keeps it,
        # so a capacity kept from pass to pass and updated orders nodes as a new one does)
        self._buckets: dict[str, dict[int, list[str]]] = {}
        self.total_devices: dict[str, int] = {}
        for name in sorted(self.free):
            f = self.free[name]
            if f.node.state is not NodeState.UP:
                continue
            t = f.node.accelerator_type
            self.total_devices[t] = self.total_devices.get(t, 0) + f.node.accelerator_count
            self._bucket(t, len(f.devices)).append(name)

    def clone(self) -> Capacity:
        """An independent copy, for what-ifs such as a reservation's earliest start."""
        other = Capacity.__new__(Capacity)
        other.free = {
            k: FreeNode(f.node, f.cpus, f.memory_mib, list(f.devices)) for k, f in self.free.items()
        }
        other.label = self.label
        other._buckets = {
            t: {c: list(names) for c, names in by_count.items()}
            for t, by_count in self._buckets.items()
        }
        other.total_devices = dict(self.total_devices)
        return other

    @property
    def types(self) -> tuple[str, ...]:
        """Accelerator types with at least one node up (``cpu`` for CPU-only nodes)."""
        return tuple(sorted(self.total_devices))

    def free_devices(self, accelerator_type: str) -> int:
        return sum(
            count * len(names) for count, names in self._buckets.get(accelerator_type, {}).items()
        )

    def rack(self, name: str) -> str:
        return self.free[name].node.labels.get(self.label, "")

    # -- changes -------------------------------------------------------------------------

    def take(self, placement: Placement) -> None:
        """Hold what ``placement`` names (a job admitted elsewhere in this pass)."""
        for held in placement.nodes:
            f = self.free.get(held.node)
            if f is not None:
                self._unindex(f)
                f.hold(held)
                self._index(f)

    def release(self, placement: Placement) -> None:
        """Give back what ``placement`` held (a what-if: the job is gone)."""
        for held in placement.nodes:
            f = self.free.get(held.node)
            if f is not None:
                self._unindex(f)
                f.release(held)
                self._index(f)

    def _unindex(self, f: FreeNode) -> None:
        if f.node.state is NodeState.UP:
            bucket = self._bucket(f.node.accelerator_type, len(f.devices))
            del bucket[bisect_left(bucket, f.node.name)]

    def _index(self, f: FreeNode) -> None:
        if f.node.state is NodeState.UP:
            insort(self._bucket(f.node.accelerator_type, len(f.devices)), f.node.name)

    def _bucket(self, t: str, count: int) -> list[str]:
        by_count = self._buckets.setdefault(t, {})
        bucket = by_count.get(count)
        if bucket is None:
            bucket = by_count[count] = []
        return bucket

    # -- fitting ---------------------------------------------------------------------------

    def candidates(
        self, req: Request, accelerator_type: str, excluded: frozenset[str] = frozenset()
    ) -> Iterable[FreeNode]:
        """Nodes of ``accelerator_type`` that fit one node's share of ``req``, fewest free
        devices first."""
        by_count = self._buckets.get(accelerator_type, {})
        for count in sorted(c for c in by_count if c >= req.accelerators):
            for name in by_count[count]:
                if name in excluded:
                    continue
                f = self.free[name]
                if f.cpus >= req.cpus and f.memory_mib >= req.memory_mib:
                    yield f

    def place(
        self,
        req: Request,
        accelerator_type: str,
        *,
        spread: bool = False,
        same_rack: bool = False,
        excluded: frozenset[str] = frozenset(),
        commit: bool = True,
    ) -> Placement | None:
        """A placement of ``req`` on ``accelerator_type`` nodes, taken from free capacity
        (unless ``commit`` is False: a what-if); None if it does not fit now."""
        if req.accelerators == 0:
            return self._place_cpu(
                req, spread=spread, same_rack=same_rack, excluded=excluded, commit=commit
            )
        if req.nodes == 1:
            fits = self.candidates(req, accelerator_type, excluded)
            first = next(iter(fits), None) if not spread else None
            if spread:
                nodes = list(fits)
                first = nodes[-1] if nodes else None
            if first is None:
                return None
            chosen = [first]
        else:
            picked = self._gang(
                list(self.candidates(req, accelerator_type, excluded)), req, spread, same_rack
            )
            if picked is None:
                return None
            chosen = picked
        return self._commit(chosen, req, commit)

    def _place_cpu(
        self,
        req: Request,
        *,
        spread: bool,
        same_rack: bool,
        excluded: frozenset[str],
        commit: bool,
    ) -> Placement | None:
        # CPU jobs go to CPU nodes first, so that accelerator nodes keep their cores.
        fitting: list[FreeNode] = []
        for t in [CPU] + [t for t in self.types if t != CPU]:
            group = sorted(self.candidates(req, t, excluded), key=lambda f: (f.cpus, f.node.name))
            if req.nodes == 1 and group:
                return self._commit([group[-1] if spread else group[0]], req, commit)
            fitting.extend(group)
        if req.nodes == 1 or len(fitting) < req.nodes:
            return None
        picked = self._gang(fitting, req, spread, same_rack)
        return None if picked is None else self._commit(picked, req, commit)

    def _gang(
        self, fitting: list[FreeNode], req: Request, spread: bool, same_rack: bool
    ) -> list[FreeNode] | None:
        """``req.nodes`` nodes of one pool: one rack if any rack has enough, else the fewest
        racks (unless the job needs one rack)."""
        pools: dict[str, dict[str, list[FreeNode]]] = {}
        for f in fitting:
            pools.setdefault(f.node.pool, {}).setdefault(self.rack(f.node.name), []).append(f)
        n = req.nodes
        for pool in sorted(pools):
            racks = pools[pool]
            whole = [r for r in sorted(racks) if len(racks[r]) >= n]
            if whole:
                # pack: the rack with the fewest fitting nodes that suffices (keeps big racks
                # whole); spread: the roomiest rack.
                pick = (max if spread else min)(whole, key=lambda r: len(racks[r]))
                group = racks[pick]
                return group[-n:] if spread else group[:n]
            if same_rack or sum(len(v) for v in racks.values()) < n:
                continue
            chosen: list[FreeNode] = []
            for r in sorted(racks, key=lambda r: (-len(racks[r]), r)):
                chosen.extend(racks[r][: n - len(chosen)])
                if len(chosen) == n:
                    return chosen
        return None

    def _commit(self, chosen: list[FreeNode], req: Request, commit: bool = True) -> Placement:
        if not commit:
            return Placement(
                pool=chosen[0].node.pool,
                nodes=tuple(
                    NodePlacement(
                        f.node.name,
                        req.cpus,
                        req.memory_mib,
                        f.node.accelerator_type,
                        tuple(f.devices[: req.accelerators]),
                    )
                    for f in chosen
                ),
            )
        held = []
        for f in chosen:
            self._unindex(f)
            held.append(f.take(req))
            self._index(f)
        return Placement(pool=chosen[0].node.pool, nodes=tuple(held))

    # -- explaining ------------------------------------------------------------------------

    def largest_block(
        self, req: Request, accelerator_type: str, excluded: frozenset[str] = frozenset()
    ) -> tuple[int, int]:
        """(most nodes fitting one node's share in one rack, in one pool)."""
        racks: dict[tuple[str, str], int] = {}
        pools: dict[str, int] = {}
        types = [accelerator_type] if req.accelerators else self.types
        for t in types:
            for f in self.candidates(req, t, excluded):
                key = (f.node.pool, self.rack(f.node.name))
                racks[key] = racks.get(key, 0) + 1
                pools[f.node.pool] = pools.get(f.node.pool, 0) + 1
        return max(racks.values(), default=0), max(pools.values(), default=0)

    def most_free_on_one_node(self, accelerator_type: str) -> int:
        by_count = self._buckets.get(accelerator_type, {})
        return max((c for c, names in by_count.items() if names), default=0)
