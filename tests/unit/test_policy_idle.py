"""The classes' notebook idle limit (``idle_s``) in the policy: optional, validated, written
back and read again unchanged, and the fallback to the center's setting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aidc.core.notebooks import idle_limit
from aidc.core.policy import Policy
from aidc.core.policy_text import PolicyError, dumps, loads


def test_unset_by_default_and_the_setting_is_the_fallback() -> None:
    policy = loads("")
    assert policy.of_class("interactive").idle_s is None
    assert "idle_s" not in dumps(policy)  # TOML has no null: an unset key is left out
    assert loads(dumps(policy)) == policy
    assert idle_limit(None, 3600.0) == 3600.0
    assert idle_limit(600.0, 3600.0) == 600.0
    assert idle_limit(0.0, 3600.0) == 0.0  # culling off for the class


@given(st.floats(min_value=0, max_value=14 * 86400, allow_nan=False))
def test_a_set_limit_round_trips(idle: float) -> None:
    policy = loads(f"[classes.interactive]\nidle_s = {idle!r}\n")
    assert policy.of_class("interactive").idle_s == idle
    assert loads(dumps(policy)) == policy
    assert isinstance(policy, Policy)


@pytest.mark.parametrize("value", ["-1", "2000000", '"1h"'])
def test_bad_limits_name_the_key(value: str) -> None:
    with pytest.raises(PolicyError) as e:
        loads(f"[classes.interactive]\nidle_s = {value}\n")
    assert [f for f, _ in e.value.fields] == ["classes.interactive.idle_s"]
