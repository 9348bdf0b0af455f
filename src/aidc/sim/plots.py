"""The report's figures, drawn with matplotlib (Agg: no display, no network) as PNG bytes.

Each figure reads only the plain data of ``report.document`` (one entry per policy), so a
figure can be redrawn from a stored ``result.json``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Runs = Sequence[dict[str, Any]]
WIDTH, HEIGHT, DPI = 9.0, 4.2, 110


def _pyplot() -> Any:
    """matplotlib.pyplot, imported when a figure is first drawn: importing it costs every
    server start about a second (more on a new home, where it builds a font cache), and
    only drawing needs it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    # No timestamps or versions in the file: the same data, the same bytes.
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    _pyplot().close(fig)
    return buf.getvalue()


def _hours(series: dict[str, Any]) -> list[float]:
    return [t / 3600 for t in series["t_s"]]


def utilisation(runs: Runs) -> bytes:
    """Allocated / capacity over time: one line per policy and accelerator type."""
    fig, ax = _pyplot().subplots(figsize=(WIDTH, HEIGHT))
    for run in runs:
        s = run["series"]
        for kind, values in sorted(s["utilisation"].items()):
            label = run["name"] if len(s["utilisation"]) == 1 else f"{run['name']} ({kind})"
            ax.step(_hours(s), [v * 100 for v in values], where="post", label=label, lw=1.2)
    ax.set(
        title="Utilisation over time",
        xlabel="hours since the first submission",
        ylabel="accelerators allocated (%)",
        ylim=(0, 105),
    )
    _legend(ax)
    return _png(fig)


def queue_length(runs: Runs) -> bytes:
    fig, ax = _pyplot().subplots(figsize=(WIDTH, HEIGHT))
    for run in runs:
        s = run["series"]
        ax.step(_hours(s), s["queue_length"], where="post", label=run["name"], lw=1.2)
    ax.set(
        title="Jobs waiting over time",
        xlabel="hours since the first submission",
        ylabel="jobs waiting (bin average)",
    )
    ax.set_ylim(bottom=0)
    _legend(ax)
    return _png(fig)


def completion_cdf(runs: Runs) -> bytes:
    """The completion-time CDF of each policy, on a log time axis."""
    fig, ax = _pyplot().subplots(figsize=(WIDTH, HEIGHT))
    drawn = False
    for run in runs:
        q = run["completion_quantiles_s"]
        if not q:
            continue
        fractions = [i / (len(q) - 1) for i in range(len(q))]
        ax.step([max(v, 1e-3) for v in q], fractions, where="post", label=run["name"], lw=1.4)
        drawn = True
    if drawn:
        ax.set_xscale("log")
    ax.set(
        title="Job completion time (submission to end), CDF",
        xlabel="seconds (log scale)",
        ylabel="fraction of completed jobs",
        ylim=(0, 1.02),
    )
    _legend(ax)
    return _png(fig)


def shares(runs: Runs) -> bytes:
    """Per project: the share of the cluster it received (bars, one per policy) and the share
    it was entitled to (a black tick on each bar), while it had demand."""
    projects = sorted({t["project"] for run in runs for t in run["tenants"]})
    fig, ax = _pyplot().subplots(
        figsize=(max(WIDTH, 0.5 * len(projects) * len(runs)), HEIGHT + 0.6)
    )
    width = 0.8 / max(1, len(runs))
    for i, run in enumerate(runs):
        rows = {t["project"]: t for t in run["tenants"]}
        xs = [p + (i - (len(runs) - 1) / 2) * width for p in range(len(projects))]
        got = [rows[p]["received_share"] * 100 if p in rows else 0 for p in projects]
        due = [rows[p]["entitled_share"] * 100 if p in rows else 0 for p in projects]
        ax.bar(xs, got, width=width * 0.95, label=f"{run['name']}: received")
        ax.scatter(xs, due, marker="_", s=220, color="black", zorder=3)
    ax.scatter([], [], marker="_", s=220, color="black", label="entitled")
    ax.set_xticks(range(len(projects)), projects, rotation=30 if len(projects) > 6 else 0)
    ax.set(
        title="Share of the cluster while the project had demand",
        ylabel="mean share of all accelerators (%)",
    )
    ax.set_ylim(bottom=0)
    _legend(ax)
    return _png(fig)


def _legend(ax: Any) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small", loc="best")
    ax.grid(alpha=0.3)


# File name -> (title, drawing), in the report's order.
FIGURES: dict[str, tuple[str, Callable[[Runs], bytes]]] = {
    "utilisation.png": ("Utilisation over time", utilisation),
    "queue.png": ("Queue length over time", queue_length),
    "completion_cdf.png": ("Completion time CDF", completion_cdf),
    "shares.png": ("Per-tenant share against entitlement", shares),
}
