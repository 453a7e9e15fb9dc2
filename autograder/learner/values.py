"""The plain values that cross between learner code and the grader, both ways.

`capture` turns whatever the learner returned into plain data (an exact `torch.Tensor`,
an exact `numpy.ndarray`, a float, None, or a tuple of those) or into `Unusable`, without
ever calling a method of an unknown object: a tensor subclass or an object with its own
`__eq__` / `__torch_function__` could otherwise answer any comparison with "equal".
It never raises: a value it cannot copy is `Unusable`, saying why.

`dumps` / `loads` write a tree of plain values as JSON plus raw array bytes in a zip,
never pickle. The grader sends a kernel its inputs this way and the kernel sends back
its observations; `loads` reads untrusted bytes, so every size is capped before reading
and anything malformed raises `ValueError`, never something deeper.

A tree holds: None, bool, int, float, str, torch.dtype, tuple, list, dict (str keys),
torch.Tensor (any device, `meta` included: shape and dtype only; `requires_grad` and
`.grad` kept), numpy.ndarray, and Unusable.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

# Exact types accepted as a scalar result. bool is deliberately absent.
SCALAR_TYPES = (float, int, np.float64, np.float32, np.float16, np.int64, np.int32)
# nn.Parameter is PyTorch's own subclass with __torch_function__ disabled: safe to detach.
TENSOR_TYPES = (torch.Tensor, torch.nn.Parameter)

MAX_BLOB_BYTES = 256 * 1024 ** 2      # one file of values (inputs of an exercise, one observation)
MAX_TREE_NODES = 100_000
MAX_DEPTH = 32
MAX_TEXT = 4_000                      # characters of a string value (e.g. an error message)


@dataclass(frozen=True)
class Unusable:
    """A result that cannot be compared (wrong kind of object); always a failure."""

    reason: str


def type_name(value: Any) -> str:
    cls = type(value)
    module = getattr(cls, "__module__", "") or ""
    if module in ("builtins", "__main__"):
        return cls.__qualname__
    if module.startswith("numpy"):
        module = "numpy"
    elif module.startswith("torch"):
        module = "torch"
    return f"{module}.{cls.__qualname__}"


def capture(value: Any, _depth: int = 0) -> Any:
    """Plain copy of a learner's result, or `Unusable` saying what was wrong with it."""
    try:
        return _capture(value, _depth)
    except Exception as err:  # noqa: BLE001 - whatever the object does, it is a verdict
        return Unusable(f"an object of type {type_name(value)} that could not be copied "
                        f"({type(err).__name__})")


def _capture(value: Any, depth: int) -> Any:
    cls = type(value)
    if value is None:
        return None
    if cls in TENSOR_TYPES:
        if value.layout != torch.strided or value.is_quantized:
            return Unusable(f"a {value.layout} tensor (return an ordinary dense tensor)")
        return value.detach().clone()
    if cls is np.ndarray:
        if value.dtype == object:
            return Unusable("a numpy array of Python objects (dtype=object)")
        return value.copy()
    if cls in SCALAR_TYPES:
        return float(value)
    if cls in (tuple, list):
        if depth >= MAX_DEPTH or len(value) > 10_000:
            return Unusable("a sequence nested too deeply or too long")
        return tuple(capture(v, depth + 1) for v in value)
    if isinstance(value, torch.Tensor):
        return Unusable(f"an object of type {type_name(value)}, a subclass of torch.Tensor "
                        "(return a plain torch.Tensor)")
    if isinstance(value, np.ndarray):
        return Unusable(f"an object of type {type_name(value)}, a subclass of numpy.ndarray "
                        "(return a plain numpy array)")
    return Unusable(f"an object of type {type_name(value)}")


def describe(value: Any) -> str:
    """One line saying what a (captured) value is: type, shape, dtype, device."""
    if value is None:
        return "None"
    if isinstance(value, Unusable):
        return value.reason
    if type(value) is torch.Tensor:
        return (f"torch.Tensor of shape {tuple(value.shape)}, dtype {value.dtype}, "
                f"device {value.device}")
    if type(value) is np.ndarray:
        return f"numpy.ndarray of shape {value.shape}, dtype {value.dtype}"
    if type(value) is float:
        return f"the number {value:.6g}"
    if type(value) is tuple:
        return f"a sequence of {len(value)} values"
    return type_name(value)


# ----------------------------------------------------------------------------- storage
_DTYPES = {str(d).replace("torch.", ""): d for d in (
    torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64,
    torch.complex128, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
    torch.bool)}


class _Writer:
    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self.nodes = 0

    def encode(self, value: Any, depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > MAX_TREE_NODES or depth > MAX_DEPTH:
            raise ValueError("too many or too deeply nested values")
        cls = type(value)
        if value is None:
            return {"kind": "none"}
        if cls in (bool, int, float):
            return {"kind": cls.__name__, "value": value}
        if cls is str:
            return {"kind": "str", "value": value[:MAX_TEXT]}
        if isinstance(value, Unusable):
            return {"kind": "unusable", "reason": str(value.reason)[:MAX_TEXT]}
        if isinstance(value, torch.dtype):
            return {"kind": "dtype", "value": str(value).replace("torch.", "")}
        if cls in (tuple, list):
            return {"kind": cls.__name__, "items": [self.encode(v, depth + 1) for v in value]}
        if cls is dict:
            return {"kind": "dict", "items": {str(k): self.encode(v, depth + 1) for k, v in value.items()}}
        if cls in TENSOR_TYPES:
            return self._tensor(value, depth)
        if cls is np.ndarray and value.dtype != object:
            key = f"a{len(self.arrays)}"
            self.arrays[key] = np.ascontiguousarray(value)
            return {"kind": "ndarray", "key": key}
        raise TypeError(f"not a plain value: {type_name(value)}")

    def _tensor(self, t: torch.Tensor, depth: int) -> dict:
        dtype = str(t.dtype).replace("torch.", "")
        if dtype not in _DTYPES:
            raise TypeError(f"a tensor of dtype {dtype} cannot be sent")
        node = {"kind": "tensor", "dtype": dtype, "shape": list(t.shape), "device": str(t.device),
                "requires_grad": bool(t.requires_grad), "grad": None}
        if t.device.type != "meta":
            key = f"a{len(self.arrays)}"
            flat = t.detach().reshape(-1).contiguous().cpu()
            self.arrays[key] = flat.view(torch.uint8).numpy().copy() if flat.numel() else np.zeros(0, np.uint8)
            node["key"] = key
        if t.grad is not None and type(t.grad) is torch.Tensor:
            node["grad"] = self._tensor(t.grad, depth + 1)
        return node


def dumps(tree: Any) -> bytes:
    """Serialise a tree of plain values (see the module docstring): JSON + raw arrays in a zip."""
    writer = _Writer()
    root = writer.encode(tree)
    npz = io.BytesIO()
    np.savez(npz, **writer.arrays)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("values.json", json.dumps(root, sort_keys=True))
        zf.writestr("arrays.npz", npz.getvalue())
    return out.getvalue()


class _Reader:
    def __init__(self, arrays, devices: set[str]):
        self.arrays = arrays
        self.devices = devices
        self.nodes = 0

    def decode(self, node: Any, depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > MAX_TREE_NODES or depth > MAX_DEPTH or not isinstance(node, dict):
            raise ValueError("malformed values")
        kind = node.get("kind")
        if kind == "none":
            return None
        if kind in ("bool", "int", "float"):
            value = node["value"]
            want = {"bool": bool, "int": int, "float": float}[kind]
            if type(value) is not want and not (kind == "float" and type(value) is int):
                raise ValueError("malformed number")
            return want(value)
        if kind == "str":
            return str(node["value"])[:MAX_TEXT]
        if kind == "unusable":
            return Unusable(str(node["reason"])[:MAX_TEXT])
        if kind == "dtype":
            return _DTYPES[str(node["value"])]
        if kind in ("tuple", "list"):
            items = [self.decode(n, depth + 1) for n in node["items"]]
            return tuple(items) if kind == "tuple" else items
        if kind == "dict":
            return {str(k): self.decode(v, depth + 1) for k, v in dict(node["items"]).items()}
        if kind == "ndarray":
            return np.array(self.arrays[str(node["key"])], copy=True)
        if kind == "tensor":
            return self._tensor(node, depth)
        raise ValueError(f"unknown value kind {kind!r}")

    def _tensor(self, node: dict, depth: int) -> Any:
        dtype = _DTYPES[str(node["dtype"])]
        shape = tuple(int(s) for s in node["shape"])
        device = str(node["device"])
        if torch.device(device).type not in self.devices:
            return Unusable(f"a tensor on device {device}, which the grader's machine does not have")
        if torch.device(device).type == "meta":
            t = torch.empty(shape, dtype=dtype, device="meta")
        else:
            raw = np.asarray(self.arrays[str(node["key"])], dtype=np.uint8)
            count = int(np.prod(shape)) if shape else 1
            size = torch.empty((), dtype=dtype).element_size()
            if raw.size != count * size:
                raise ValueError("tensor data does not match its shape")
            flat = torch.from_numpy(raw.copy()).view(dtype) if count else torch.empty(0, dtype=dtype)
            t = flat.reshape(shape).to(device)
        if node.get("grad") is not None:
            grad = self._tensor(node["grad"], depth + 1)
            if isinstance(grad, torch.Tensor) and grad.shape == t.shape and t.is_floating_point():
                t.grad = grad
        if node.get("requires_grad") and (t.is_floating_point() or t.is_complex()):
            t.requires_grad_(True)
        return t


def _devices_here() -> set[str]:
    found = {"cpu", "meta"}
    if torch.cuda.is_available():
        found.add("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.add("mps")
    return found


def loads(blob: bytes) -> Any:
    """Read what `dumps` wrote; untrusted input: raises ValueError on anything malformed."""
    if len(blob) > MAX_BLOB_BYTES:
        raise ValueError("values file too large")
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as zf:
            infos = {i.filename: i for i in zf.infolist()}
            if set(infos) != {"values.json", "arrays.npz"} or \
                    sum(i.file_size for i in infos.values()) > MAX_BLOB_BYTES:
                raise ValueError("unexpected members or sizes")
            root = json.loads(zf.read("values.json"))
            with np.load(io.BytesIO(zf.read("arrays.npz")), allow_pickle=False) as arrays:
                return _Reader(arrays, _devices_here()).decode(root)
    except ValueError:
        raise
    except Exception as err:  # noqa: BLE001 - zip, json, npz and key errors alike
        raise ValueError(f"malformed values ({type(err).__name__})") from None


def save(tree: Any, path: str | Path) -> None:
    Path(path).write_bytes(dumps(tree))


def load(path: str | Path) -> Any:
    return loads(Path(path).read_bytes())
