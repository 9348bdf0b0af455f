"""Job specs: what users submit, and errors that name the field to fix."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from aidc.core import accelerators
from aidc.core.jobspec import MAX_TIME_LIMIT_S, JobSpec, PriorityClass
from aidc.core.resources import Request
from aidc.core.validation import field_errors


def errors_of(**fields: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        JobSpec(**fields)
    return field_errors(info.value.errors())


def only_error(**fields: Any) -> tuple[str, str]:
    errs = errors_of(**fields)
    assert len(errs) == 1, errs
    return errs[0]


def test_valid_spec_with_defaults_and_text_sizes() -> None:
    spec = JobSpec(
        project="llm-lab",
        name="train.v2",
        command=["python", "train.py"],
        workdir="/home/me/llm",
        env={"HF_HOME": "/data/hf", "_X1": ""},
        accelerators=4,
        accelerator_type="H100",
        nodes=2,
        cpus=16,
        memory_mib="16G",
        time_limit_s="2h",
        priority_class="interactive",
    )
    assert spec.accelerator_type == "h100"
    assert spec.memory_mib == 16 * 1024
    assert spec.time_limit_s == 7200
    assert spec.priority_class is PriorityClass.INTERACTIVE
    assert spec.request() == Request(
        nodes=2, cpus=16, memory_mib=16384, accelerators=4, accelerator_types=("h100",)
    )


def test_defaults_and_script() -> None:
    spec = JobSpec(project="p", script="echo hi\n")
    assert (spec.nodes, spec.cpus, spec.accelerators) == (1, 1, 0)
    assert spec.time_limit_s is None  # the class default applies
    assert spec.request().accelerator_type is None


@pytest.mark.parametrize("type_", [None, "", "any", "ANY", "Any"])
def test_any_accelerator_type_means_none(type_: str | None) -> None:
    spec = JobSpec(project="p", command=["x"], accelerators=1, accelerator_type=type_)
    assert spec.accelerator_type is None


def test_request_drops_type_when_no_accelerators_asked() -> None:
    spec = JobSpec(project="p", command=["x"], accelerator_type="a100")
    assert spec.request().accelerator_type is None


@pytest.mark.parametrize("project", ["", "-lead", "has space", "a/b", "x" * 64, "p\n", "ü"])
def test_bad_project_name(project: str) -> None:
    field, msg = only_error(project=project, command=["x"])
    assert field == "project"
    assert "project name" in msg


def test_missing_project_is_required() -> None:
    assert only_error(command=["x"]) == ("project", "is required")


@pytest.mark.parametrize("name", ["", "a b", "x" * 64, "job\n"])
def test_bad_job_name(name: str) -> None:
    field, _ = only_error(project="p", command=["x"], name=name)
    assert field == "name"


@pytest.mark.parametrize("command", [[], [""], ["ls", "a\x00b"], ["x" * (64 * 1024 + 1)]])
def test_bad_command(command: list[str]) -> None:
    field, _ = only_error(project="p", command=command)
    assert field == "command"


def test_empty_command_message_gives_an_example() -> None:
    _, msg = only_error(project="p", command=[])
    assert "program" in msg


@pytest.mark.parametrize(
    "fields",
    [{}, {"command": ["ls"], "script": "ls"}],
    ids=["neither", "both"],
)
def test_exactly_one_of_command_or_script(fields: dict[str, Any]) -> None:
    field, msg = only_error(project="p", **fields)
    assert field == "command"
    assert msg == "give exactly one of command or script"


@pytest.mark.parametrize("script", ["", "  \n\t"])
def test_blank_script(script: str) -> None:
    field, msg = only_error(project="p", script=script)
    assert field == "script"
    assert "empty" in msg


@pytest.mark.parametrize("workdir", ["rel/path", "./x", "~/x", ""])
def test_relative_workdir(workdir: str) -> None:
    field, msg = only_error(project="p", command=["x"], workdir=workdir)
    assert field == "workdir"
    assert "absolute" in msg


@pytest.mark.parametrize(
    "key", ["AIDC_JOB_ID", "AIDC_", "CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"]
)
def test_reserved_env_names(key: str) -> None:
    field, msg = only_error(project="p", command=["x"], env={key: "0"})
    assert field == "env"
    assert key in msg
    assert "set by aidc" in msg


@pytest.mark.parametrize("key", ["", "1ABC", "A-B", "A B", "A=B", "FOO\n", "É"])
def test_bad_env_names(key: str) -> None:
    field, msg = only_error(project="p", command=["x"], env={key: "v"})
    assert field == "env"
    assert "not a variable name" in msg


def test_env_value_with_nul() -> None:
    field, msg = only_error(project="p", command=["x"], env={"A": "x\x00y"})
    assert field == "env"
    assert "NUL" in msg


def test_unknown_accelerator_type_lists_known_types() -> None:
    field, msg = only_error(project="p", command=["x"], accelerators=1, accelerator_type="v100")
    assert field == "accelerator_type"
    assert "'v100'" in msg
    for known in accelerators.CATALOG:
        assert known in msg


def test_cpu_type_with_accelerators() -> None:
    field, msg = only_error(project="p", command=["x"], accelerators=2, accelerator_type="cpu")
    assert field == "accelerator_type"
    assert "cpus" in msg


def test_cpu_type_without_accelerators_is_fine() -> None:
    assert JobSpec(project="p", command=["x"], accelerator_type="cpu").accelerators == 0


def test_unknown_field_says_check_spelling() -> None:
    field, msg = only_error(project="p", command=["x"], gpus=2)
    assert field == "gpus"
    assert "check its spelling" in msg


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"accelerators": -1}, "accelerators"),
        ({"accelerators": 65}, "accelerators"),
        ({"nodes": 0}, "nodes"),
        ({"cpus": 0}, "cpus"),
        ({"memory_mib": 0}, "memory_mib"),
        ({"memory_mib": "lots"}, "memory_mib"),
        ({"time_limit_s": "soon"}, "time_limit_s"),
        ({"time_limit_s": 0}, "time_limit_s"),
        ({"priority_class": "urgent"}, "priority_class"),
    ],
)
def test_out_of_range_numbers_name_their_field(fields: dict[str, Any], field: str) -> None:
    assert only_error(project="p", command=["x"], **fields)[0] == field


def test_time_limit_accepts_text_up_to_the_maximum() -> None:
    assert JobSpec(project="p", command=["x"], time_limit_s="2h").time_limit_s == 7200
    assert JobSpec(project="p", command=["x"], time_limit_s="14d").time_limit_s == MAX_TIME_LIMIT_S


@pytest.mark.parametrize("limit", ["14d1s", "15d", MAX_TIME_LIMIT_S + 1])
def test_time_limit_beyond_14_days(limit: str | int) -> None:
    field, msg = only_error(project="p", command=["x"], time_limit_s=limit)
    assert field == "time_limit_s"
    assert str(MAX_TIME_LIMIT_S) in msg


def test_memory_accepts_text() -> None:
    assert JobSpec(project="p", command=["x"], memory_mib="16G").memory_mib == 16384
    assert JobSpec(project="p", command=["x"], memory_mib="512M").memory_mib == 512


def test_every_bad_field_is_reported_at_once() -> None:
    errs = errors_of(project="", command=[], workdir="x", cpus=0)
    assert {f for f, _ in errs} == {"project", "command", "workdir", "cpus"}


def test_spec_is_frozen() -> None:
    spec = JobSpec(project="p", command=["x"])
    with pytest.raises(ValidationError):
        spec.cpus = 4  # type: ignore[misc]


def test_field_errors_skips_fastapi_body_prefix() -> None:
    errs = [
        {"loc": ("body", "cpus"), "msg": "Input should be greater than or equal to 1"},
        {"loc": ("body",), "msg": "Value error, command: give exactly one"},
        {"loc": (), "msg": "Value error, something without a field"},
    ]
    assert field_errors(errs, skip=1) == [
        ("cpus", "Input should be greater than or equal to 1"),
        ("command", "give exactly one"),
        ("body", "something without a field"),
    ]
