"""Scheduling policy as data: weights, half-life, classes, preemption, backfill, placement.

An operator writes it as TOML (``aidc.core.policy_text.loads`` reads it, merged over a preset,
with errors that name the key and the fix; docs/policy.md lists every key). Three presets
give the starting points: ``fairshare`` (the default: Slurm-like multifactor priority, EASY
backfill, reclaim by preemption), ``fifo`` (submission order, no backfill, no preemption) and
``sjf`` (shortest time limit first).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

DAY_S = 24 * 3600


class Ordering(StrEnum):
    PRIORITY = "priority"  # multifactor: fair share, age, size, class, nice
    FIFO = "fifo"  # submission order
    SJF = "sjf"  # shortest time limit first, then submission order


class PlacementStrategy(StrEnum):
    PACK = "pack"  # best fit: fill busy nodes first, keep whole nodes free for big jobs
    SPREAD = "spread"  # worst fit: the emptiest nodes first


class TypeChoice(StrEnum):
    CHEAPEST = "cheapest"  # lowest billing weight that fits now
    FASTEST = "fastest"  # highest peak bf16 that fits now


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Weights(_Strict):
    """Slurm-style multifactor weights; each factor lies in [0, 1] before weighting."""

    fairshare: Annotated[float, Field(ge=0)] = 10_000
    age: Annotated[float, Field(ge=0)] = 1_000
    size: Annotated[float, Field(ge=0)] = 500
    priority_class: Annotated[float, Field(ge=0)] = 2_000
    # Age stops counting after this long, so old jobs cannot outrank fair share for ever.
    max_age_s: Annotated[float, Field(gt=0)] = 7 * DAY_S


class ClassPolicy(_Strict):
    """How one priority class is treated."""

    factor: Annotated[float, Field(ge=0, le=1)]
    # May borrow idle quota of the cohort (interactive runs within nominal quota only).
    may_borrow: bool = True
    # Runs on any idle capacity without charging quota; first to be preempted.
    beyond_quota: bool = False
    # Whether running jobs of this class may be preempted at all.
    preemptible: bool = True
    grace_s: Annotated[float, Field(ge=0, le=DAY_S)] = 60
    default_time_limit_s: Annotated[int, Field(ge=1, le=14 * DAY_S)] = DAY_S
    # Notebook sessions of this class are culled after this long without kernel or terminal
    # activity (0: never). None: the center's setting AIDC_NOTEBOOK_IDLE_S.
    idle_s: Annotated[float | None, Field(ge=0, le=14 * DAY_S)] = None


def _default_classes() -> dict[str, ClassPolicy]:
    return {
        "interactive": ClassPolicy(
            factor=1.0, may_borrow=False, preemptible=False, default_time_limit_s=8 * 3600
        ),
        "normal": ClassPolicy(factor=0.5),
        "opportunistic": ClassPolicy(factor=0.0, beyond_quota=True),
    }


class Preemption(_Strict):
    enabled: bool = True
    # In-quota work takes back nominal quota that others borrowed.
    reclaim: bool = True
    # Lower classes of the same project give way to higher ones (opportunistic to normal).
    within_project: bool = True
    # Bounds the work of one planning pass; the rest wait for the next pass.
    max_attempts_per_pass: Annotated[int, Field(ge=0)] = 64


class Backfill(_Strict):
    enabled: bool = True
    # How many blocked jobs get a reservation (1 = EASY backfill).
    reservations: Annotated[int, Field(ge=1, le=1000)] = 1


class PlacementPolicy(_Strict):
    strategy: PlacementStrategy = PlacementStrategy.PACK
    # Node label that names a rack or switch; gang jobs prefer nodes sharing one.
    topology_label: Annotated[str, Field(min_length=1, max_length=64)] = "rack"
    accelerator_choice: TypeChoice = TypeChoice.CHEAPEST


class Policy(_Strict):
    preset: Annotated[str, Field(max_length=64)] = "fairshare"
    ordering: Ordering = Ordering.PRIORITY
    half_life_s: Annotated[float, Field(gt=0)] = 7 * DAY_S
    weights: Weights = Weights()
    classes: dict[str, ClassPolicy] = Field(default_factory=_default_classes)
    preemption: Preemption = Preemption()
    backfill: Backfill = Backfill()
    placement: PlacementPolicy = PlacementPolicy()

    @field_validator("classes", mode="before")
    @classmethod
    def _all_classes(cls, value: Any) -> Any:
        # Before the sections themselves are checked: a misspelt class should be reported as
        # such, not as "classes.nromal.factor: is required".
        if not isinstance(value, dict):
            return value  # pydantic reports the type
        known = list(_default_classes())
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(
                f"unknown priority class {unknown[0]!r}; the classes are {', '.join(known)}"
            )
        missing = [name for name in known if name not in value]
        if missing:
            raise ValueError(f"every priority class needs a section; add [classes.{missing[0]}]")
        return value

    def of_class(self, name: str) -> ClassPolicy:
        return self.classes.get(name) or self.classes["normal"]


PRESETS: dict[str, dict[str, Any]] = {
    "fairshare": {},
    "fifo": {
        "preset": "fifo",
        "ordering": "fifo",
        "backfill": {"enabled": False},
        "preemption": {"enabled": False},
    },
    "sjf": {"preset": "sjf", "ordering": "sjf"},
}


def preset(name: str) -> Policy:
    """The named preset; KeyError lists the presets."""
    try:
        return Policy.model_validate(PRESETS[name])
    except KeyError:
        raise KeyError(f"unknown preset {name!r}; use one of {', '.join(PRESETS)}") from None


def from_mapping(data: dict[str, Any]) -> Policy:
    """A policy from parsed TOML: ``preset = "sjf"`` starts from that preset, keys override."""
    base = PRESETS.get(str(data.get("preset", "fairshare")))
    if base is None:
        raise ValueError(
            f"preset: unknown preset {data['preset']!r}; use one of {', '.join(PRESETS)}"
        )
    defaults = Policy().model_dump(mode="json")
    return Policy.model_validate(_merge(_merge(defaults, base), data))


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
