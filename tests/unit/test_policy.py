"""The scheduling policy as data: presets, TOML over a preset, and errors that name the key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aidc.core.policy import PRESETS, Ordering, Policy, from_mapping, preset
from aidc.core.policy_text import MAX_TEXT_BYTES, PolicyError, dumps, explain, loads


def error_of(text: str) -> tuple[str, str]:
    """The one (field, message) that ``text`` is refused with."""
    with pytest.raises(PolicyError) as info:
        loads(text)
    assert len(info.value.fields) == 1, info.value.fields
    return info.value.fields[0]


def test_presets_differ_as_documented() -> None:
    fair, fifo, sjf = preset("fairshare"), preset("fifo"), preset("sjf")
    assert fair == Policy() and fair.preset == "fairshare"
    assert (fair.ordering, fair.backfill.enabled, fair.preemption.enabled) == (
        Ordering.PRIORITY,
        True,
        True,
    )
    assert (fifo.ordering, fifo.backfill.enabled, fifo.preemption.enabled) == (
        Ordering.FIFO,
        False,
        False,
    )
    assert (sjf.ordering, sjf.backfill.enabled, sjf.preemption.enabled) == (
        Ordering.SJF,
        True,
        True,
    )
    # Apart from what each preset is about, they share the defaults.
    assert fifo.weights == sjf.weights == fair.weights
    assert fifo.classes == sjf.classes == fair.classes
    with pytest.raises(KeyError, match="fairshare, fifo, sjf"):
        preset("lottery")


def test_toml_merges_over_its_preset() -> None:
    p = loads(
        'preset = "fifo"\n'
        "half_life_s = 86400\n"
        "[weights]\nage = 5\n"
        "[classes.normal]\ngrace_s = 300\n"
        "[placement]\nstrategy = 'spread'\n"
    )
    assert p.preset == "fifo" and p.ordering is Ordering.FIFO
    assert p.backfill.enabled is False  # from the preset, not overridden
    assert p.half_life_s == 86400 and p.weights.age == 5
    assert p.weights.fairshare == Policy().weights.fairshare  # untouched keys keep defaults
    assert p.of_class("normal").grace_s == 300
    assert p.of_class("normal").factor == 0.5  # the rest of the class section stays
    assert p.placement.strategy == "spread"
    # A key may undo what the preset set.
    assert loads('preset = "fifo"\n[backfill]\nenabled = true\n').backfill.enabled is True
    # An empty file is the default preset.
    assert loads("") == Policy() == from_mapping({})


def test_every_preset_round_trips_through_its_expanded_text() -> None:
    for name in PRESETS:
        p = preset(name)
        assert loads(dumps(p)) == p
    assert "half_life_s = 604800\n" in dumps(Policy())  # whole numbers without ".0"


@pytest.mark.parametrize(
    ("text", "field", "says"),
    [
        ("[weights]\nage = -1\n", "weights.age", "must be >= 0 (got -1)"),
        ("half_life_s = 0\n", "half_life_s", "must be > 0"),
        ("[classes.normal]\nfactor = 2\n", "classes.normal.factor", "must be <= 1 (got 2)"),
        ("[weights]\nsize = 'big'\n", "weights.size", 'must be a number (got "big")'),
        ("[backfill]\nenabled = 'yes please'\n", "backfill.enabled", "true or false"),
        ("[backfill]\nreservations = 1.5\n", "backfill.reservations", "whole number"),
        ("ordering = 'random'\n", "ordering", "'priority', 'fifo' or 'sjf'"),
        ("[placement]\nstrategy = 'scatter'\n", "placement.strategy", "'pack' or 'spread'"),
        ("[placement]\ntopology_label = ''\n", "placement.topology_label", "not be empty"),
        ("weights = 3\n", "weights", "must be a table: [weights] with its keys (got 3)"),
        ('preset = "lottery"\n', "preset", "use one of fairshare, fifo, sjf"),
        ("preset = 3\n", "preset", "unknown preset 3"),
        ("[weights]\nage = \n", "toml", "(at line 2, column 7)"),
        ("[weights\n", "toml", "line 1"),
        ("a = 1\na = 2\n", "toml", "line 2"),
    ],
)
def test_each_kind_of_invalid_input_names_its_field(text: str, field: str, says: str) -> None:
    got_field, message = error_of(text)
    assert got_field == field
    assert says in message


def test_several_problems_are_all_named() -> None:
    with pytest.raises(PolicyError) as info:
        loads("[weights]\nage = -1\n[backfill]\nreservations = 0\n")
    assert [f for f, _ in info.value.fields] == ["weights.age", "backfill.reservations"]
    assert str(info.value).startswith("weights.age: must be >= 0")


def test_unknown_keys_are_refused_with_the_known_ones() -> None:
    field, message = error_of("[weights]\nagee = 1\n")
    assert field == "weights.agee"
    assert "did you mean 'age'?" in message
    assert "age, fairshare, max_age_s, priority_class, size" in message
    field, message = error_of("half_life = 10\n")
    assert field == "half_life"
    assert "did you mean 'half_life_s'?" in message and "top level" in message
    field, message = error_of("[classes.normal]\nfacter = 0.3\n")
    assert (field, "did you mean 'factor'?" in message) == ("classes.normal.facter", True)
    field, message = error_of("[scheduler]\nx = 1\n")
    assert field == "scheduler" and "not a known key" in message


def test_unknown_priority_classes_are_refused_before_their_keys() -> None:
    field, message = error_of("[classes.high]\nfactor = 1\n")
    assert field == "classes"
    assert "unknown priority class 'high'" in message
    assert "interactive, normal, opportunistic" in message


def test_every_class_section_is_required() -> None:
    # A file merges over its preset, which has them all; a Policy built directly must too.
    with pytest.raises(ValidationError) as info:
        Policy.model_validate({"classes": {"normal": {"factor": 0.5}}})
    [(field, message)] = explain(info.value)
    assert field == "classes"
    assert "every priority class needs a section; add [classes.interactive]" in message
    with pytest.raises(ValidationError) as info:
        Policy.model_validate({"classes": {"interactive": {}, "normal": {}, "opportunistic": {}}})
    assert [f for f, _ in explain(info.value)] == [
        "classes.interactive.factor",
        "classes.normal.factor",
        "classes.opportunistic.factor",
    ]


def test_of_class_falls_back_to_normal() -> None:
    p = Policy()
    assert p.of_class("interactive").preemptible is False
    assert p.of_class("no-such-class") == p.of_class("normal")


def test_text_size_is_bounded() -> None:
    field, message = error_of("# " + "x" * MAX_TEXT_BYTES)
    assert field == "toml" and str(MAX_TEXT_BYTES) in message
