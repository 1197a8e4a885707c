"""Checkpoint: the tensors of a model directory's safetensors files, known from their headers.

Headers are parsed here (8-byte length, JSON) without reading any tensor data, so that `stipple
models info|verify` can check a 16 GB checkpoint's names, shapes, dtypes and file sizes in
milliseconds, and so that loading can stream one tensor at a time onto the device instead of
materializing a whole state dict first (a 7B model would otherwise need twice its size in RAM).
"""

from __future__ import annotations

import json
import struct
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

SINGLE = "model.safetensors"
INDEX = "model.safetensors.index.json"

# safetensors dtype names -> bytes per element (and whether a model weight may use it).
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1,
               "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
WEIGHT_DTYPES = ("F32", "F16", "BF16")
MAX_HEADER = 100 * 2**20
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")  # torch.save's formats: unpickling runs code


class ModelDirError(ValueError):
    """A model directory is missing, incomplete or corrupt; the message says which file and why."""


@dataclass(frozen=True)
class TensorInfo:
    file: str
    dtype: str  # safetensors' name: "BF16", "F32", ...
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


def read_header(file: Path) -> dict[str, TensorInfo]:
    """name -> TensorInfo of one safetensors file; ModelDirError if the file is short or malformed."""
    try:
        size = file.stat().st_size
        with open(file, "rb") as f:
            raw = f.read(8)
            if len(raw) < 8:
                raise ModelDirError(f"{file}: corrupt weights (file of {size} bytes has no header)")
            (length,) = struct.unpack("<Q", raw)
            if length > MAX_HEADER or 8 + length > size:
                raise ModelDirError(f"{file}: corrupt weights (header of {length} bytes, file of {size})")
            header = json.loads(f.read(length))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelDirError(f"{file}: corrupt weights ({exc})") from exc
    if not isinstance(header, dict):
        raise ModelDirError(f"{file}: corrupt weights (header is not a JSON object)")
    tensors, end = {}, 0
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, stop = meta["data_offsets"]
            info = TensorInfo(file.name, str(meta["dtype"]), tuple(int(s) for s in meta["shape"]))
            expected = info.numel * DTYPE_BYTES[info.dtype]
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelDirError(f"{file}: corrupt weights (bad header entry {name!r})") from exc
        if stop - begin != expected:
            raise ModelDirError(f"{file}: corrupt weights ({name} holds {stop - begin} bytes, "
                                f"its shape needs {expected})")
        tensors[name], end = info, max(end, stop)
    if 8 + length + end > size:
        raise ModelDirError(f"{file}: corrupt weights (truncated: {size} bytes, the header "
                            f"describes {8 + length + end})")
    return tensors


@dataclass
class Checkpoint:
    path: Path
    files: list[str]
    tensors: dict[str, TensorInfo]
    problems: list[str] = field(default_factory=list)
    """Inconsistencies that do not stop loading (an index naming a tensor its shard lacks is one
    that does: it is raised)."""

    @classmethod
    def open(cls, path: Path) -> Checkpoint:
        path = Path(path)
        if (path / SINGLE).exists():
            return cls(path, [SINGLE], read_header(path / SINGLE))
        if not (path / INDEX).exists():
            pickled = sorted(p.name for p in path.glob("*") if p.suffix in PICKLE_SUFFIXES)
            refusal = f" ({', '.join(pickled[:3])}: pickle, never loaded; convert to safetensors)" if pickled else ""
            raise ModelDirError(f"{path}: no {SINGLE} or {INDEX}{refusal}")
        try:
            weight_map = json.loads((path / INDEX).read_text())["weight_map"]
            assert isinstance(weight_map, dict)
        except (OSError, ValueError, KeyError, TypeError, AssertionError) as exc:
            raise ModelDirError(f"{path / INDEX}: corrupt index ({exc!r})") from exc
        files = sorted(set(weight_map.values()))
        tensors: dict[str, TensorInfo] = {}
        problems = []
        for shard in files:
            if not (path / shard).is_file():
                raise ModelDirError(f"{path}: shard {shard} named by {INDEX} is missing")
            tensors.update(read_header(path / shard))
        for name, shard in weight_map.items():
            if name not in tensors or tensors[name].file != shard:
                raise ModelDirError(f"{path}: {INDEX} puts {name} in {shard}, which lacks it")
        problems += [f"{name} is in {info.file} but not in {INDEX}"
                     for name, info in tensors.items() if name not in weight_map]
        return cls(path, files, tensors, problems)

    @property
    def num_bytes(self) -> int:
        return sum(t.numel * DTYPE_BYTES[t.dtype] for t in self.tensors.values())

    def dtypes(self) -> dict[str, int]:
        """dtype -> number of elements stored in it."""
        out: dict[str, int] = {}
        for t in self.tensors.values():
            out[t.dtype] = out.get(t.dtype, 0) + t.numel
        return out

    def reader(self) -> TensorReader:
        return TensorReader(self)


class TensorReader:
    """Context manager: one open safetensors handle per file, one tensor read at a time."""

    def __init__(self, checkpoint: Checkpoint) -> None:
        self.checkpoint = checkpoint
        self.stack = ExitStack()
        self.handles: dict[str, object] = {}

    def __enter__(self) -> TensorReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()

    def read(self, name: str, device, dtype):
        """One tensor, converted on its way to the device (torch.Tensor)."""
        from safetensors import SafetensorError, safe_open

        info = self.checkpoint.tensors[name]
        try:
            if info.file not in self.handles:
                handle = safe_open(str(self.checkpoint.path / info.file), framework="pt")
                self.handles[info.file] = self.stack.enter_context(handle)
            tensor = self.handles[info.file].get_tensor(name)
        except (SafetensorError, OSError) as exc:
            raise ModelDirError(f"{self.checkpoint.path / info.file}: corrupt weights ({exc})") from exc
        return tensor.to(device=device, dtype=dtype)
