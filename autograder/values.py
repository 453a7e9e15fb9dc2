"""What crosses from the learner's code to the grader: plain values only.

`capture` turns whatever the learner returned into plain data (an exact `torch.Tensor`,
an exact `numpy.ndarray`, a float, None, or a tuple of those) or into `Unusable`, without
ever calling a method of an unknown object: a tensor subclass or an object with its own
`__eq__` / `__torch_function__` could otherwise answer any comparison with "equal".
`save`/`load` write captured values as JSON + `.npz` (never pickle), so a verdict can be
computed in a process the learner's code never ran in.
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


@dataclass(frozen=True)
class Unusable:
    """A result that cannot be compared (wrong kind of object); always a failure."""

    reason: str


def type_name(value: Any) -> str:
    cls = type(value)
    module = cls.__module__
    if module in ("builtins", "__main__"):
        return cls.__qualname__
    if module.startswith("numpy"):
        module = "numpy"
    elif module.startswith("torch"):
        module = "torch"
    return f"{module}.{cls.__qualname__}"


def capture(value: Any) -> Any:
    """Plain copy of a learner's result, or `Unusable` saying what was wrong with it."""
    cls = type(value)
    if value is None:
        return None
    if cls in TENSOR_TYPES:
        return value.detach().clone()
    if cls is np.ndarray:
        if value.dtype == object:
            return Unusable("a numpy array of Python objects (dtype=object)")
        return value.copy()
    if cls in SCALAR_TYPES:
        return float(value)
    if cls in (tuple, list):
        return tuple(capture(v) for v in value)
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
# A captured result is a tree of None / float / tuple / Unusable / tensor / ndarray.
# It is stored as a JSON tree whose array leaves point into one .npz archive.

def _encode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if value is None or type(value) is float:
        return {"kind": "none"} if value is None else {"kind": "float", "value": value}
    if isinstance(value, Unusable):
        return {"kind": "unusable", "reason": value.reason}
    if type(value) is tuple:
        return {"kind": "tuple", "items": [_encode(v, arrays) for v in value]}
    key = f"a{len(arrays)}"
    if type(value) is torch.Tensor:
        arrays[key] = value.detach().cpu().numpy()
        return {"kind": "tensor", "key": key, "device": str(value.device),
                "requires_grad": bool(value.requires_grad)}
    if type(value) is np.ndarray:
        arrays[key] = value
        return {"kind": "ndarray", "key": key}
    raise TypeError(f"not a captured value: {type_name(value)}")


def _decode(node: dict, arrays) -> Any:
    kind = node["kind"]
    if kind == "none":
        return None
    if kind == "float":
        return float(node["value"])
    if kind == "unusable":
        return Unusable(str(node["reason"]))
    if kind == "tuple":
        return tuple(_decode(n, arrays) for n in node["items"])
    data = arrays[node["key"]]
    if kind == "ndarray":
        return np.array(data, copy=True)
    if kind == "tensor":
        device = node["device"]
        if device.startswith("cuda") and not torch.cuda.is_available():
            device = "cpu"  # judged on a machine without the device: compare on the CPU
        return torch.from_numpy(np.array(data, copy=True)).to(device)
    raise ValueError(f"unknown value kind {kind!r}")


def dumps(values: dict[str, Any]) -> bytes:
    """Serialise named captured values to bytes (a zip of JSON + npz, no pickle)."""
    arrays: dict[str, np.ndarray] = {}
    tree = {name: _encode(v, arrays) for name, v in values.items()}
    npz = io.BytesIO()
    np.savez(npz, **arrays)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("values.json", json.dumps(tree, sort_keys=True))
        zf.writestr("arrays.npz", npz.getvalue())
    return out.getvalue()


def loads(blob: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        tree = json.loads(zf.read("values.json"))
        with np.load(io.BytesIO(zf.read("arrays.npz")), allow_pickle=False) as arrays:
            return {name: _decode(node, arrays) for name, node in tree.items()}


def save(values: dict[str, Any], path: str | Path) -> None:
    Path(path).write_bytes(dumps(values))


def load(path: str | Path) -> dict[str, Any]:
    return loads(Path(path).read_bytes())
