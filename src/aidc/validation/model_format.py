"""What the harness reads from an ONNX file itself: checksum, size, the one input's shape.

Read with onnx (not the runtime), so every runtime, plug-ins included, is checked the same way
before it loads the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aidc.validation.dataset_format import file_sha256


class ModelError(ValueError):
    """The file is not an ONNX model the harness can feed (the message says why)."""


@dataclass(frozen=True)
class ModelFile:
    path: Path
    sha256: str
    bytes: int
    input_name: str
    input_shape: tuple[int | None, ...]  # None: a dynamic axis

    @property
    def fixed_batch(self) -> int | None:
        return self.input_shape[0] if self.input_shape else None

    def check_sample_shape(self, sample_shape: tuple[int, ...]) -> None:
        """Raise ModelError unless samples of ``sample_shape`` fit the model's input."""
        want = self.input_shape[1:]
        fits = len(want) == len(sample_shape) and all(
            w is None or w == s for w, s in zip(want, sample_shape, strict=True)
        )
        if not fits:
            shown = ["?" if w is None else w for w in self.input_shape]
            raise ModelError(
                f"input {self.input_name!r} has shape {shown} but the dataset's samples are "
                f"{list(sample_shape)}"
            )


def read(path: Path) -> ModelFile:
    import onnx

    if not path.is_file():
        raise ModelError(f"{path} does not exist")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # protobuf's DecodeError and friends: any of them means "not ONNX"
        raise ModelError(f"{path.name} is not an ONNX model ({type(e).__name__})") from e
    graph = model.graph
    initialised = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initialised]
    if len(inputs) != 1:
        raise ModelError(f"the model has {len(inputs)} inputs; the harness feeds exactly one")
    if not graph.output:
        raise ModelError("the model has no output")
    tensor = inputs[0].type.tensor_type
    if tensor.elem_type != onnx.TensorProto.FLOAT:
        raise ModelError(f"input {inputs[0].name!r} is not float32")
    dims = tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim)
    if not dims:
        raise ModelError(f"input {inputs[0].name!r} has no batch axis")
    return ModelFile(path, file_sha256(path), path.stat().st_size, inputs[0].name, dims)
