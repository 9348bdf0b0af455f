"""The validation dataset format: ``inputs.npy`` (float32, samples first) and ``labels.npy``
(integers, one class index per sample) in one folder, and the dataset's checksum.

The checksum is the SHA-256 of the UTF-8 text made of one ``name<TAB>sha256-hex<LF>`` line
per file, sorted by name (``inputs.npy``, then ``labels.npy``), so it is recomputable with
``sha256sum`` and a shell.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

INPUTS = "inputs.npy"
LABELS = "labels.npy"


class DatasetError(ValueError):
    """The folder does not hold a dataset in this format (the message says what is wrong)."""


@dataclass(frozen=True)
class Dataset:
    inputs: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int64]
    sha256: str

    @property
    def samples(self) -> int:
        return int(self.labels.shape[0])


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def dataset_sha256(folder: Path) -> str:
    lines = "".join(f"{name}\t{file_sha256(folder / name)}\n" for name in sorted((INPUTS, LABELS)))
    return hashlib.sha256(lines.encode()).hexdigest()


def _load(path: Path) -> npt.NDArray[Any]:
    if not path.is_file():
        raise DatasetError(f"{path.name} is missing in {path.parent}")
    try:
        array: npt.NDArray[Any] = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise DatasetError(f"{path.name} is not a readable .npy array ({e})") from e
    return array


def load(folder: Path) -> Dataset:
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder")
    inputs, labels = _load(folder / INPUTS), _load(folder / LABELS)
    if inputs.dtype != np.float32:
        raise DatasetError(f"{INPUTS} is {inputs.dtype}; the format wants float32")
    if inputs.ndim < 1 or inputs.shape[0] == 0:
        raise DatasetError(f"{INPUTS} has no samples (shape {inputs.shape})")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(
            f"{LABELS} must be one integer per sample, not {labels.dtype}{list(labels.shape)}"
        )
    if labels.shape[0] != inputs.shape[0]:
        raise DatasetError(f"{INPUTS} has {inputs.shape[0]} samples but {LABELS} {labels.shape[0]}")
    if labels.min() < 0:
        raise DatasetError(f"{LABELS} holds a negative class index ({int(labels.min())})")
    return Dataset(np.ascontiguousarray(inputs), labels.astype(np.int64), dataset_sha256(folder))
