"""Chapter 02: tensors on a device.

Oracles are PyTorch built-ins (torch.meshgrid, F.normalize, torch.cdist, torch.einsum) and
torch.autograd for the hand-written gradients of `two_layer_step`, computed on the
grader's own copy of the inputs.

Three kinds of evidence beyond equal values, all written here because the core does not
have them (yet):
- *device*: every exercise also runs on PyTorch's `meta` device (tensors with a shape and
  a dtype but no data, present on every machine). A function that drops to the CPU or to
  numpy cannot keep a result there, so "the output stays on the input's device" is
  proven even on a machine without a GPU. Meta results cross to the grader as zeros of
  the same shape and dtype (`_on_meta`), so observations stay plain and serialisable.
- *precision*: float32 and float64 cases share one spec; the spec's Tol is the float32
  one and a Property holds float64 cases to float64 precision (`_float64_property`).
- *speed*: a Property compares the learner's time with a Python-loop version on a large
  input (`_timed`), besides the static NoLoops rule.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from ..compare import FLOAT64, CheckFailure, Mistake, Tol, Where, compare
from ..spec import Case, Property, Spec
from ..static import ForbiddenCalls, NoLoops
from ...learner.values import Unusable
from . import register

# float32 on both sides, results of a few hundred terms at most; CUDA may reorder sums.
F32 = Tol(1e-4, 1e-5, "float32: about 7 significant digits, sums of a few hundred terms")
# Distances: the expansion |a|^2 + |b|^2 - 2 a.b (and torch.cdist itself for large inputs)
# cancels digits, so the absolute error is about eps32 * (|a|^2 + |b|^2) ~ 1e-7 * 64.
F32_DIST = Tol(1e-4, 1e-4, "float32 with |a|^2 + |b|^2 - 2 a.b: cancellation costs ~1e-5 absolute")
# The loss of the two-layer net is a sum of 640 squares of values in the hundreds, and the
# updated weights depend on matmuls over 1000 terms: float32 keeps ~6 digits of each.
F32_NET = Tol(2e-4, 1e-4, "float32 sums of up to 1000 terms on CPU or CUDA, against float64 autograd")
# float64 cases must match to float64 precision (a float32 intermediate shows up here).
F64 = Tol(1e-9, 1e-10, "float64 on both sides; only the order of summation differs")

MIN_SPEEDUP = 10   # a vectorised answer is 100-1000x faster than the loop; 10 leaves room for load


class WrongDevice(Exception):
    """Raised (grader side) when a result left the meta device the inputs were on."""


# ----------------------------------------------------------------------------- helpers
def _is_meta(inputs: dict) -> bool:
    return any(isinstance(v, torch.Tensor) and v.device.type == "meta" for v in inputs.values()) \
        or str(inputs.get("device")) == "meta"


def _meta_to_plain(value, what: str):
    """A meta tensor has only a shape and a dtype: pass those on as zeros on the CPU.
    Anything on another device means the learner's code left the input's device."""
    if type(value) is torch.Tensor:
        if value.device.type != "meta":
            raise WrongDevice(
                f"{what} is on device {value.device}, but the inputs were on the meta device "
                "(the grader runs every exercise there too). The result must stay on the "
                "input's device: no .cpu()/.numpy() round trip, create new tensors with "
                "device=<input>.device (or *_like, or the device argument)")
        return torch.zeros(value.shape, dtype=value.dtype)
    if type(value) in (tuple, list):
        return tuple(_meta_to_plain(v, f"{what}[{k}]") for k, v in enumerate(value))
    return value


def _on_meta(call, outputs):
    """Wrap a spec's call: results of meta cases become plain zeros of their shape/dtype."""
    def run(fn, i):
        try:
            result = call(fn, i)
        except (NotImplementedError, RuntimeError, TypeError) as err:
            # .cpu()/.numpy()/.item() of a meta tensor, or a CPU tensor mixed with meta ones
            if _is_meta(i) and "meta" in str(err):
                raise WrongDevice(
                    f"{err}\nOn the meta device (the grader runs every exercise there too) "
                    "your code either copied a tensor off the input's device (.cpu(), .numpy(), "
                    ".item(), float()) or mixed in a tensor created on the CPU. Compute with torch "
                    "operations and create new tensors with device=<input>.device (or *_like); "
                    "on a GPU the same code fails or copies data back and forth") from None
            raise
        if not _is_meta(i):
            return result
        if len(outputs) == 1:
            return _meta_to_plain(result, "the result")
        if type(result) in (tuple, list) and len(result) == len(outputs):
            return tuple(_meta_to_plain(v, f"`{name}`") for v, name in zip(result, outputs))
        return result
    return run


def _oracle_on_meta(oracle):
    def run(i):
        expected = oracle(i)
        if _is_meta(i):
            return {k: torch.zeros(v.shape, dtype=v.dtype) for k, v in expected.items()}
        return expected
    return run


def _float64_property(exercise, oracle, names, mistakes=None):
    """float64 inputs must give float64-accurate results (the spec's Tol is float32's)."""
    def check(inputs, outputs, case):
        if _is_meta(inputs):
            return
        expected = oracle(inputs)
        found = mistakes(inputs) if mistakes else {}
        for name in names:
            exp = expected[name]
            if type(exp) is not torch.Tensor or exp.dtype != torch.float64:
                continue
            where = Where(f"{exercise}: `{name}` at float64 precision", str(exp.device),
                          f"case '{case.label}'", tuple(found.get(name, ())))
            compare(outputs.get(name, Unusable("missing")), exp, F64, where)
    return Property("float64 precision", check,
                    "float64 inputs are computed in float64 throughout: no float32 step inside")


def _best_time(fn, repeats=3, slow=0.05):
    """Fastest of a few runs (the least disturbed by other processes); one run is enough
    when it is already slow."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
        if best > slow:
            break
    return best


def _timed(call, loop_version, args):
    """Wrap a spec's call: on the 'timing' case (CPU), also measure how many times faster
    the learner's function is than a Python-loop version of it, as output `speedup`."""
    def run(fn, i):
        result = call(fn, i)
        speedup = None
        if i.get("timed") and all(i[a].device.type == "cpu" for a in args):
            # One thread for both: on a loaded machine, torch's worker threads wait for each
            # other and make a 0.2 ms vectorised op take 50 ms or more (measured on 2 cores).
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                mine = _best_time(lambda: call(fn, i))
                start = time.perf_counter()
                loop_version(*(i[a] for a in args))
                loops = time.perf_counter() - start
            finally:
                torch.set_num_threads(threads)
            speedup = loops / max(mine, 1e-9)
        return result, speedup
    return run


def _speed_property(exercise):
    def check(inputs, outputs, case):
        speedup = outputs.get("speedup")
        if not inputs.get("timed") or inputs[next(iter(inputs))].device.type != "cpu":
            return
        if type(speedup) is not float or speedup < MIN_SPEEDUP:
            shown = f"{speedup:.1f} times" if type(speedup) is float else "not measured"
            raise CheckFailure(
                f"{exercise}: too slow for vectorised code (case '{case.label}': "
                f"{_describe(inputs)})\nyour function was {shown} as fast as a Python loop over "
                f"the elements; a vectorised version is hundreds of times faster "
                f"(required: at least {MIN_SPEEDUP}x)\nHint: no Python-level iteration "
                "(for, map, comprehension, recursion): use broadcasting and matmul")
    return Property("vectorised", check,
                    f"at least {MIN_SPEEDUP}x faster than a Python loop over the elements "
                    "(a vectorised answer is 100-1000x faster)", cases=("timing",))


def _describe(inputs):
    return ", ".join(f"{k} {tuple(v.shape)} {str(v.dtype).replace('torch.', '')}"
                     for k, v in inputs.items() if isinstance(v, torch.Tensor))


def _meta(t: torch.Tensor, meta: bool) -> torch.Tensor:
    return t.to("meta") if meta else t


# ------------------------------------------------------------------------ make_grid_tensor
def _grid_inputs(rand, h, w, dtype, meta=False):
    return {"h": h, "w": w, "device": "meta" if meta else rand.device, "dtype": dtype}


def reference_grid(h, w, device, dtype):
    rows, cols = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device),
                                indexing="ij")
    return torch.stack([rows, cols], dim=-1).to(dtype)


def _grid_mistakes(i):
    if _is_meta(i):
        return {}
    g = reference_grid(i["h"], i["w"], i["device"], i["dtype"])
    return {"grid": [
        Mistake(g.flip(-1), "the two coordinates are swapped: grid[i, j] must be (i, j), the row "
                "index first (channel 0 = row i, channel 1 = column j)"),
        Mistake(g + 1, "the coordinates start at 1: torch.arange(n) counts 0, 1, ..., n - 1"),
    ]}


make_grid_tensor = Spec(
    name="ch02.make_grid_tensor",
    inputs=_grid_inputs,
    call=_on_meta(lambda fn, i: fn(i["h"], i["w"], device=i["device"], dtype=i["dtype"]), ("grid",)),
    outputs=("grid",),
    oracle=_oracle_on_meta(lambda i: {"grid": reference_grid(i["h"], i["w"], i["device"], i["dtype"])}),
    tol=Tol(0.0, 0.0, "small integers are exact in float32 and float64"),
    cases=(Case("wide", 0, dict(h=3, w=5, dtype=torch.float32)),
           Case("tall float64", 1, dict(h=7, w=2, dtype=torch.float64)),
           Case("square", 2, dict(h=4, w=4, dtype=torch.float32)),
           Case("one row", 3, dict(h=1, w=6, dtype=torch.float32)),
           Case("integer", 4, dict(h=5, w=3, dtype=torch.int64)),
           Case("meta device", 5, dict(h=3, w=4, dtype=torch.float64, meta=True))),
    mistakes=_grid_mistakes,
)


# ------------------------------------------------------------------------ normalize_rows
def _norm_inputs(rand, n, d, dtype, zero_row=None, meta=False):
    x = rand.randn(n, d, dtype=dtype, scale=3.0)
    if zero_row is not None:
        x[zero_row] = 0
    return {"x": _meta(x, meta)}


def _norm_oracle(i):
    # F.normalize divides by max(||row||, eps): a zero row stays zero.
    x = i["x"]
    return {"y": F.normalize(x, p=2.0, dim=1, eps=1e-12), "x_after": x.clone()}


def _norm_call(fn, i):
    x = i["x"]
    return fn(x), x    # the input after the call: it must be unchanged


def _norm_mistakes(i):
    if _is_meta(i):
        return {}
    x = i["x"]
    y = F.normalize(x, dim=1)
    return {
        "y": [
            Mistake(F.normalize(x, dim=0), "each column has norm 1: reduce over dim=1 (along "
                    "each row), not dim=0"),
            Mistake(x / (x * x).sum(dim=1, keepdim=True), "you divided by the squared norm: take "
                    "the square root (torch.linalg.vector_norm or x.norm(dim=1, keepdim=True))"),
            Mistake(x / x.norm(dim=1)[None, :] if x.shape[0] == x.shape[1] else None, "row i is divided by the norm of another row: "
                    "keep the reduced dim (keepdim=True) so the norms broadcast along each row"),
            Mistake((x - x.mean(dim=1, keepdim=True)) / x.std(dim=1, keepdim=True),
                    "you standardised the rows (zero mean, unit std): the exercise asks for unit "
                    "L2 norm"),
        ],
        "x_after": [Mistake(y, "your function changed its input x in place (x /= ... or "
                            "x.div_(...)): compute a new tensor, x / norms")],
    }


_norm_cases = (Case("square", 12, dict(n=4, d=4)),   # first: a missing keepdim is named here
               Case("float32", 10, dict(n=5, d=3)),
               Case("float64", 11, dict(n=4, d=6, dtype=torch.float64)),
               Case("zero row", 13, dict(n=6, d=5, zero_row=2)),
               Case("one row", 14, dict(n=1, d=7, dtype=torch.float64)),
               Case("meta device", 15, dict(n=3, d=5, meta=True)))

normalize_rows = Spec(
    name="ch02.normalize_rows",
    inputs=lambda rand, dtype=torch.float32, **kw: _norm_inputs(rand, dtype=dtype, **kw),
    call=_on_meta(_norm_call, ("y", "x_after")),
    outputs=("y", "x_after"),
    oracle=_oracle_on_meta(_norm_oracle),
    tol={"y": F32, "x_after": Tol(0.0, 0.0, "the input must be left exactly as it was")},
    cases=_norm_cases,
    mistakes=_norm_mistakes,
    properties=(_float64_property("normalize_rows", _norm_oracle, ("y",), _norm_mistakes),),
)


# ------------------------------------------------------------------------ pairwise_sq_distances
def _pair_inputs(rand, n, m, d, dtype=torch.float32, meta=False, timed=False):
    a = rand.randn(n, d, dtype=dtype)
    b = rand.randn(m, d, dtype=dtype)
    if n >= 2 and m >= 2 and not meta:
        b[1] = a[0]        # one pair at distance exactly 0: no negative rounding allowed to matter
    out = {"a": _meta(a, meta), "b": _meta(b, meta)}
    if timed:
        out["timed"] = True
    return out


def reference_sq_distances(a, b):
    # torch.cdist in float64 (exact enough), squared, back in the input's dtype
    return (torch.cdist(a.double(), b.double()) ** 2).to(a.dtype)


def loop_sq_distances(a, b):
    """The slow version the speed check compares with: one Python step per pair."""
    out = torch.empty(a.shape[0], b.shape[0], dtype=a.dtype)
    for i in range(a.shape[0]):
        for j in range(b.shape[0]):
            out[i, j] = ((a[i] - b[j]) ** 2).sum()
    return out


def _pair_oracle(i):
    return {"d2": reference_sq_distances(i["a"], i["b"])}


def _pair_mistakes(i):
    if _is_meta(i):
        return {}
    a, b = i["a"], i["b"]
    d2 = reference_sq_distances(a, b)
    return {"d2": [
        Mistake(d2.sqrt(), "these are the distances, not their squares: leave out the sqrt"),
        Mistake(d2.T, "the result is transposed: row i must belong to a[i], column j to b[j]"),
        Mistake((a * a).sum(1, keepdim=True) + (b * b).sum(1) + 2 * a @ b.T,
                "the cross term has the wrong sign: |a - b|^2 = |a|^2 + |b|^2 - 2 a.b"),
        Mistake((a * a).sum(1, keepdim=True) + (b * b).sum(1) - a @ b.T,
                "the cross term lacks its factor 2: |a - b|^2 = |a|^2 + |b|^2 - 2 a.b"),
    ]}


_pair_call = lambda fn, i: fn(i["a"], i["b"])  # noqa: E731

pairwise_sq_distances = Spec(
    name="ch02.pairwise_sq_distances",
    inputs=_pair_inputs,
    call=_on_meta(_timed(_pair_call, loop_sq_distances, ("a", "b")), ("d2", "speedup")),
    outputs=("d2", "speedup"),
    oracle=_oracle_on_meta(_pair_oracle),
    tol=F32_DIST,
    cases=(Case("float32", 20, dict(n=5, m=3, d=4)),
           Case("float64", 21, dict(n=6, m=7, d=3, dtype=torch.float64)),
           Case("square", 22, dict(n=4, m=4, d=2)),
           Case("single points", 23, dict(n=1, m=1, d=5, dtype=torch.float64)),
           Case("one dimension", 24, dict(n=3, m=8, d=1)),
           Case("meta device", 25, dict(n=3, m=4, d=2, meta=True)),
           Case("timing", 26, dict(n=100, m=150, d=16, timed=True))),
    static=(NoLoops("compute all pairs at once with broadcasting or a matrix product"),),
    mistakes=_pair_mistakes,
    properties=(_float64_property("pairwise_sq_distances", _pair_oracle, ("d2",), _pair_mistakes),
                _speed_property("pairwise_sq_distances")),
)


# ------------------------------------------------------------------------ batched_outer
def _outer_inputs(rand, B, n, m, dtype=torch.float32, meta=False, timed=False):
    out = {"u": _meta(rand.randn(B, n, dtype=dtype), meta),
           "v": _meta(rand.randn(B, m, dtype=dtype), meta)}
    if timed:
        out["timed"] = True
    return out


def loop_outer(u, v):
    """The slow version the speed check compares with: one Python step per element."""
    out = torch.empty(u.shape[0], u.shape[1], v.shape[1], dtype=u.dtype)
    for b in range(u.shape[0]):
        for i in range(u.shape[1]):
            for j in range(v.shape[1]):
                out[b, i, j] = u[b, i] * v[b, j]
    return out


def _outer_oracle(i):
    return {"outer": torch.einsum("bi,bj->bij", i["u"], i["v"])}


def _outer_mistakes(i):
    if _is_meta(i):
        return {}
    u, v = i["u"], i["v"]
    return {"outer": [
        Mistake(torch.einsum("bi,bj->bji", u, v) if u.shape[1] == v.shape[1] else None,
                "the result is transposed in each batch: outer[b, i, j] must be u[b, i] * v[b, j]"),
        Mistake(torch.einsum("bi,cj->bij", u, v),
                "each entry sums over the batch: multiply u[b] only with v[b] of the same b"),
    ]}


batched_outer = Spec(
    name="ch02.batched_outer",
    inputs=_outer_inputs,
    call=_on_meta(_timed(lambda fn, i: fn(i["u"], i["v"]), loop_outer, ("u", "v")),
                  ("outer", "speedup")),
    outputs=("outer", "speedup"),
    oracle=_oracle_on_meta(_outer_oracle),
    # a single product per entry: bit-exact in principle; allow float32 rounding of FMA paths
    tol=Tol(1e-6, 1e-7, "one multiplication per entry: exact up to the last bit of float32"),
    cases=(Case("float32", 30, dict(B=3, n=4, m=2)),
           Case("float64", 31, dict(B=2, n=3, m=5, dtype=torch.float64)),
           Case("square", 32, dict(B=4, n=3, m=3)),
           Case("batch of one", 33, dict(B=1, n=5, m=1)),
           Case("meta device", 34, dict(B=2, n=3, m=4, meta=True)),
           Case("timing", 35, dict(B=16, n=30, m=40, timed=True))),
    static=(NoLoops("build every outer product at once with broadcasting, bmm or einsum"),),
    mistakes=_outer_mistakes,
    properties=(_float64_property("batched_outer", _outer_oracle, ("outer",), _outer_mistakes),
                _speed_property("batched_outer")),
)


# ------------------------------------------------------------------------ two_layer_step
SIZES = {  # N: batch, D_in: inputs, H: hidden units, D_out: outputs
    "classic": dict(N=64, D_in=1000, H=100, D_out=10),
    "small": dict(N=5, D_in=7, H=4, D_out=3),
    "single": dict(N=1, D_in=3, H=6, D_out=2),
}


def _step_inputs(rand, N, D_in, H, D_out, lr, dtype=torch.float32, meta=False):
    x, y = rand.randn(N, D_in, dtype=dtype), rand.randn(N, D_out, dtype=dtype)
    w1, w2 = rand.randn(D_in, H, dtype=dtype), rand.randn(H, D_out, dtype=dtype)
    return {"x": _meta(x, meta), "y": _meta(y, meta), "w1": _meta(w1, meta),
            "w2": _meta(w2, meta), "lr": lr}


def reference_step(x, y, w1, w2, lr):
    """torch.autograd in float64 on the inputs' device; results in the inputs' dtype."""
    w1_t = w1.detach().double().requires_grad_()
    w2_t = w2.detach().double().requires_grad_()
    with torch.enable_grad():
        loss = ((torch.relu(x.double() @ w1_t) @ w2_t - y.double()) ** 2).sum()
        g1, g2 = torch.autograd.grad(loss, [w1_t, w2_t])
    dt = w1.dtype
    return {"loss": loss.detach().to(dt), "w1": (w1_t - lr * g1).detach().to(dt),
            "w2": (w2_t - lr * g2).detach().to(dt)}


def _step_oracle(i):
    return reference_step(i["x"], i["y"], i["w1"], i["w2"], i["lr"])


def _step_call(fn, i):
    with torch.no_grad():       # hand-written gradients need no graph
        result = fn(i["x"], i["y"], i["w1"], i["w2"], i["lr"])
    if type(result) in (tuple, list):
        for name, value in zip(("w1", "w2", "loss"), result):
            if type(value) is torch.Tensor and (value.requires_grad or value.grad_fn is not None):
                raise RuntimeError(f"`{name}` carries an autograd graph (grad_fn): compute the "
                                   "gradients by hand, without requires_grad/backward")
    return result


def _step_mistakes(i):
    if _is_meta(i):
        return {}
    x, y, w1, w2, lr = (i[k] for k in ("x", "y", "w1", "w2", "lr"))
    h = x @ w1
    h_relu = h.clamp(min=0)
    y_pred = h_relu @ w2
    g = 2 * (y_pred - y)
    g2 = h_relu.T @ g
    g1 = x.T @ ((g @ w2.T) * (h > 0))
    w2_new = w2 - lr * g2
    return {
        "loss": [
            Mistake(((y_pred - y) ** 2).mean(), "this is the mean of the squared errors: the "
                    "chapter's loss is their sum"),
            Mistake(((torch.relu(x @ (w1 - lr * g1)) @ w2_new - y) ** 2).sum(),
                    "this is the loss after the update: return the loss of the weights you "
                    "were given (computed in the forward pass)"),
        ],
        "w1": [
            Mistake(w1 - lr * (x.T @ (g @ w2.T)), "grad_w1 ignores the ReLU: zero grad_h where "
                    "h < 0 (multiply by the mask h > 0)"),
            Mistake(w1 - lr * g1 / 2, "the step of w1 is half the expected: d/dy_pred of "
                    "(y_pred - y)^2 is 2 (y_pred - y)"),
            Mistake(w1 - lr * (x.T @ ((g @ w2_new.T) * (h > 0))),
                    "grad_w1 used the already updated w2: compute both gradients before "
                    "updating either weight"),
            Mistake(w1 + lr * g1, "w1 moved up the gradient: subtract lr * grad (descent)"),
        ],
        "w2": [
            Mistake(w2 - lr * g2 / 2, "the step of w2 is half the expected: d/dy_pred of "
                    "(y_pred - y)^2 is 2 (y_pred - y)"),
            Mistake(w2 - lr * h.T @ g, "grad_w2 uses h: use h_relu, the input of the second "
                    "layer"),
            Mistake(w2 + lr * g2, "w2 moved up the gradient: subtract lr * grad (descent)"),
        ],
    }


_step_outputs = ("w1", "w2", "loss")

two_layer_step = Spec(
    name="ch02.two_layer_step",
    inputs=_step_inputs,
    call=_on_meta(_step_call, _step_outputs),
    outputs=_step_outputs,
    oracle=_oracle_on_meta(_step_oracle),
    tol=F32_NET,
    cases=(Case("classic float32", 40, dict(SIZES["classic"], lr=1e-6)),
           Case("small float64", 41, dict(SIZES["small"], lr=1e-2, dtype=torch.float64)),
           Case("single float64", 42, dict(SIZES["single"], lr=5e-2, dtype=torch.float64)),
           Case("small float32", 43, dict(SIZES["small"], lr=1e-2)),
           Case("medium float64", 44, dict(N=16, D_in=50, H=20, D_out=4, lr=1e-3, dtype=torch.float64)),
           Case("meta device", 45, dict(SIZES["small"], lr=1e-2, meta=True))),
    static=(ForbiddenCalls(frozenset({"backward", "grad", "requires_grad_", "vjp", "jvp",
                                      "jacobian", "jacrev", "jacfwd", "vmap"}),
                           "gradients by hand in this chapter: autograd comes in chapter 03"),),
    mistakes=_step_mistakes,
    properties=(_float64_property("two_layer_step", _step_oracle, _step_outputs, _step_mistakes),),
)

SPECS = register(make_grid_tensor, normalize_rows, pairwise_sq_distances, batched_outer,
                 two_layer_step)
