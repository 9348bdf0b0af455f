"""Runtimes behind one small interface: the built-ins and plug-ins found by entry point.

A runtime is an object with ``name``, ``devices`` (the device names it serves),
``available(device) -> Availability`` and ``load(model_path, device) -> Session``; a session
has ``run(batch) -> scores`` and ``info() -> SessionInfo``, and may have
``peak_device_bytes() -> int | None``. Plug-ins register a class or zero-argument factory in
the ``aidc.validation_runtimes`` entry-point group (examples/validation-runtime-plugin/ is a
worked example; docs/validation.md the contract). A plug-in never replaces a built-in name.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

ENTRY_POINT_GROUP = "aidc.validation_runtimes"
BUILTIN = {"onnxruntime": "aidc.validation.onnx_runtime:OnnxRuntime"}


@dataclass(frozen=True, slots=True)
class Availability:
    ok: bool
    reason: str = ""  # why not, when not: what is missing and how to get it


@dataclass(frozen=True, slots=True)
class SessionInfo:
    name: str  # the runtime's name, as --runtime takes it
    version: str
    provider: str  # what executes the model (an execution provider, an SDK backend)
    device: str
    accelerator_model: str | None = None  # for devices the harness cannot query itself
    driver: str | None = None


@runtime_checkable
class Session(Protocol):
    def run(self, batch: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Scores [batch, classes] for inputs [batch, *sample_shape]."""

    def info(self) -> SessionInfo: ...


@runtime_checkable
class Runtime(Protocol):
    name: str
    devices: tuple[str, ...]

    def available(self, device: str) -> Availability: ...

    def load(self, model_path: Path, device: str) -> Session:
        """A session on ``device``; raises RuntimeUnavailable rather than use another one."""


class RuntimeUnavailable(Exception):
    """The runtime cannot serve this device here (the message says why)."""


class UnknownRuntime(LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown runtime {name!r}; installed: {', '.join(known)}")


class PluginBroken(Exception):
    """A plug-in's entry point does not load or does not give a runtime."""


def _plugins() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in BUILTIN}


def runtime_names() -> list[str]:
    return sorted(BUILTIN) + sorted(_plugins())


def get_runtime(name: str) -> Runtime:
    if name in BUILTIN:
        module, _, attr = BUILTIN[name].partition(":")
        factory = getattr(importlib.import_module(module), attr)
    else:
        ep = _plugins().get(name)
        if ep is None:
            raise UnknownRuntime(name, runtime_names())
        try:
            factory = ep.load()
        except Exception as e:  # a plug-in's own import error, whatever it is
            raise PluginBroken(f"plug-in {name!r} ({ep.value}) does not load: {e}") from e
    runtime = factory()
    if not isinstance(runtime, Runtime) or not isinstance(runtime.devices, tuple):
        raise PluginBroken(
            f"plug-in {name!r} gives {type(runtime).__name__}, which lacks name, devices, "
            "available or load (docs/validation.md, 'Runtimes and plug-ins')"
        )
    return runtime


def as_array(scores: Any) -> npt.NDArray[Any]:
    """A session's output as an array (plug-ins may hand back lists or framework tensors)."""
    return np.asarray(scores)
