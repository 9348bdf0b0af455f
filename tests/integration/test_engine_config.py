"""Engines from the inventory file: one per kind the pools name, each configured by its
``[engines.<kind>]`` table; mistakes name the option."""

from __future__ import annotations

from pathlib import Path

import pytest

from aidc.bootstrap import build_engines
from aidc.engines.local import LocalEngine
from aidc.engines.registry import EngineConfigError
from aidc.inventory.toml_file import InventoryError, load_engine_options, load_inventory
from aidc.settings import Settings

LOCAL = '[[pools]]\nname = "gpu"\nengine = "local"\n[[nodes]]\nname = "n1"\npool = "gpu"\n'


def engines_of(tmp_path: Path, text: str) -> dict[str, object]:
    path = tmp_path / "inventory.toml"
    path.write_text(text)
    settings = Settings(home=tmp_path / "home", inventory=path)
    pools, nodes = load_inventory(path)
    return dict(build_engines(settings, pools, nodes))


def test_each_pool_gets_the_engine_it_names(tmp_path: Path) -> None:
    engines = engines_of(tmp_path, LOCAL)
    assert list(engines) == ["local"]
    engine = engines["local"]
    assert isinstance(engine, LocalEngine)
    assert [n.name for n in engine.inventory()] == ["n1"]


def test_engine_tables_are_read_per_kind(tmp_path: Path) -> None:
    path = tmp_path / "inv.toml"
    path.write_text('[engines.slurm]\nconf = "/etc/slurm/slurm.conf"\n[engines.ray]\n')
    assert load_engine_options(path) == {"slurm": {"conf": "/etc/slurm/slurm.conf"}, "ray": {}}
    path.write_text("engines = 3\n")
    with pytest.raises(InventoryError, match=r"engines: must be tables"):
        load_engine_options(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[pools]]\nname = "x"\nengine = "k8s"\n', "engine 'k8s' is unknown; use one of local"),
        (LOCAL + '[engines.slurm]\nconf = "/x"\n', "engines.slurm: no pool uses engine 'slurm'"),
        (LOCAL + "[engines.local]\nspeed = 1\n", "engines.local.speed: the local engine has no"),
    ],
)
def test_configuration_mistakes_name_the_option(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(EngineConfigError, match=message):
        engines_of(tmp_path, text)
