"""Dataset names, mounts and file paths (pure)."""

from __future__ import annotations

import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from aidc.core.datasets import DatasetMount, env_name, file_path_problem
from aidc.core.jobspec import JobSpec


@given(st.text(alphabet="ab./\\:\x00 C.", max_size=20))
def test_an_accepted_path_never_leaves_the_root(path: str) -> None:
    if file_path_problem(path) is None:
        joined = posixpath.normpath(posixpath.join("/root/v1", path))
        assert joined.startswith("/root/v1/") and "\\" not in path


@pytest.mark.parametrize("ok", ["a.csv", "sub/dir/b.parquet", "데이터/파일.csv", "a..b"])
def test_ordinary_paths_are_accepted(ok: str) -> None:
    assert file_path_problem(ok) is None


def test_mounts_parse_from_text_and_refuse_bad_forms() -> None:
    spec = JobSpec.model_validate(
        {"project": "p", "command": ["true"], "datasets": ["traffic-seoul@3:/data", "x"]}
    )
    assert [(m.name, m.version, m.path) for m in spec.datasets] == [
        ("traffic-seoul", 3, "/data"),
        ("x", None, "/data"),
    ]
    for bad in ("Traffic", "t@v2", "t:relative", "t:/a/../b"):
        with pytest.raises(ValidationError):
            DatasetMount.model_validate(bad)
    assert env_name("traffic-seoul.v2") == "AIDC_DATASET_TRAFFIC_SEOUL_V2"
