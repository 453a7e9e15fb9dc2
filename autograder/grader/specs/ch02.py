"""Chapter 02: tensors on a device.

Oracles are PyTorch built-ins (torch.meshgrid, F.one_hot, permute, F.normalize,
torch.cdist, torch.einsum) and torch.autograd for the hand-written gradients of
`two_layer_step`, computed on the grader's own copy of the inputs, in float64 where the
exercise computes in float32.

Evidence beyond equal values (measured learner-side by autograder/learner/harness/ch02.py,
judged here):
- *device*: every exercise also runs on PyTorch's `meta` device (tensors with a shape and
  a dtype but no data, present on every machine). A function that drops to the CPU or to
  numpy cannot keep its result there, so "the result stays on the input's device" is
  proven without a GPU. Values are not compared on meta (there are none): shapes, dtypes
  and the device are.
- *precision*: float32 and float64 cases share one spec; the spec's Tol is the float32
  one and a Property holds float64 cases to float64 precision (`_float64_property`).
- *no loops* (pairwise_sq_distances, batched_outer): the number of ATen operations the
  function issues on an input and on a larger one must be the same (a loop, `map`, a
  comprehension or recursion issues more as the input grows), besides the static NoLoops.
- *write it yourself* (normalize_rows): no call into F.normalize, seen by its code object.
- *by hand* (two_layer_step): autograd saved no tensor for a backward pass.
- *in place* (center_columns_): the input is changed and returned as the same object.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..compare import CheckFailure, Mistake, Tol, Where, compare
from ..spec import Case, Property, Spec
from ..static import NoLoops
from ...learner.values import Unusable
from . import register

# Measured worst error ratios (|error| / allowed; sweep over 150-200 salts x {1, 2} threads
# on the CPU): normalize_rows 1.4e-3, center_columns_ 4.4e-2, pairwise_sq_distances 2.1e-3,
# two_layer_step 5e-3 (w2), every exact output 0. The margins are for CUDA, whose kernels
# sum in other orders.
# float32 against a float64 reference rounded to float32: sums of a few terms.
F32 = Tol(1e-4, 1e-5, "float32: about 7 significant digits, sums of a few hundred terms")
# Distances: the expansion |a|^2 + |b|^2 - 2 a.b (and torch.cdist itself for large inputs)
# cancels digits, so the absolute error is about eps32 * (|a|^2 + |b|^2) ~ 1e-7 * 64.
F32_DIST = Tol(1e-4, 1e-4, "float32 with |a|^2 + |b|^2 - 2 a.b: cancellation costs ~1e-5 absolute")
# The loss of the two-layer net is a sum of 640 squares of values in the hundreds, and the
# updated weights depend on matmuls over 1000 terms: float32 keeps ~6 digits of each.
F32_NET = Tol(2e-4, 1e-4, "float32 sums of up to 1000 terms on CPU or CUDA, against float64 autograd")
# float64 cases must match to float64 precision (a float32 intermediate shows up here).
F64 = Tol(1e-9, 1e-10, "float64 on both sides; only the order of summation differs")
EXACT = Tol(0.0, 0.0, "small integers, zeros and ones are exact in every dtype")
# Extra operations allowed on the larger input of the op-count case: none is needed by any
# vectorised answer we know (measured: equal counts); a loop over the rows adds >= 18.
OP_SLACK = 2

META_HINTS = (
    ("is not on the expected device",
     "a tensor created without device= (so on the CPU) met the inputs, which were on another "
     "device (the grader also runs your function on the meta device, as a GPU would): create "
     "new tensors with device=<input>.device, or with torch.zeros_like / *_like"),
    ("cannot be called on meta tensors",
     "your code copied a value off the input's device (.item(), float()): on a GPU that is a "
     "slow copy, and on the meta device (where the grader also runs your function) there is "
     "no value to copy: keep the computation in torch operations on the input's device"),
    ("Cannot copy out of meta tensor",
     "your code copied a tensor off the input's device (.cpu(), .tolist()): keep the "
     "computation in torch operations on the input's device (the grader also runs your "
     "function on the meta device, where there is no data to copy)"),
    ("meta device type tensor to numpy",
     "your code went through numpy (.numpy()): numpy lives on the CPU only; keep the "
     "computation in torch operations on the input's device (the grader also runs your "
     "function on the meta device, as a GPU would)"),
    ("nonzero",
     "selecting with a boolean mask, x[mask], gives a shape that depends on the values, which "
     "the meta device (used by the grader in place of a GPU) cannot run: use "
     "torch.where(mask, x, 0), or multiply by the mask"),
)


# ----------------------------------------------------------------------------- helpers
def _is_meta(inputs: dict) -> bool:
    return any(isinstance(v, torch.Tensor) and v.device.type == "meta" for v in inputs.values()) \
        or str(inputs.get("device")) == "meta"


def _meta(t: torch.Tensor, meta: bool) -> torch.Tensor:
    return t.to("meta") if meta else t


def _on_meta(oracle):
    """The oracle on meta inputs: computed on zeros of the same shapes and dtypes on the CPU,
    moved to meta (only shape, dtype and device are compared there)."""
    def run(i):
        if not _is_meta(i):
            return oracle(i)
        cpu = {k: (torch.zeros(v.shape, dtype=v.dtype) if isinstance(v, torch.Tensor) else v)
               for k, v in i.items()}
        if cpu.get("device") == "meta":
            cpu["device"] = "cpu"
        return {k: (v.to("meta") if isinstance(v, torch.Tensor) else v) for k, v in oracle(cpu).items()}
    return run


def _no_meta(mistakes):
    return lambda i: {} if _is_meta(i) else mistakes(i)


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
            try:
                compare(outputs.get(name, Unusable("missing")), exp, F64, where)
            except CheckFailure as err:
                if "Hint:" in str(err):
                    raise
                raise CheckFailure(f"{err}\nHint: {F64_HINT}") from None
    return Property("float64 precision", check,
                    "float64 inputs are computed in float64 throughout: no float32 step inside")


F64_HINT = ("float64 inputs must be computed in float64 throughout: a float32 step inside "
            "(a .float() cast, a float32 constant tensor) loses half the digits")


def _shape(t) -> str:
    return " x ".join(str(s) for s in t.shape)


def _vectorised_property(exercise, names, fix):
    """The op-count case: as many ATen operations on the larger input as on the smaller."""
    def check(inputs, outputs, case):
        small, large = outputs.get("ops_small"), outputs.get("ops_large")
        if type(small) is not float or type(large) is not float:
            raise CheckFailure(f"{exercise}: the grader could not count the tensor operations "
                               f"of your function (case '{case.label}')")
        if large > small + OP_SLACK:
            sizes = " and ".join(_shape(inputs[n]) for n in names)
            bigger = " and ".join(_shape(inputs["large"][n]) for n in names)
            raise CheckFailure(
                f"{exercise}: the number of tensor operations grows with the input: {small:.0f} "
                f"on inputs of {sizes}, {large:.0f} on inputs of {bigger} (case '{case.label}'). "
                "Vectorised code issues the same operations whatever the size; a Python-level "
                "iteration (for, while, a comprehension, map, recursion) issues more as the "
                f"input grows\nHint: no Python loops, including map: {fix}")
    return Property("vectorised", check, "the same number of tensor operations on a 4x larger "
                    "input (a loop or map issues more)", cases=("op count",))


# ------------------------------------------------------------------------ make_grid_tensor
def _grid_inputs(rand, h, w, dtype, meta=False):
    return {"h": h, "w": w, "device": "meta" if meta else rand.device, "dtype": dtype}


def reference_grid(h, w, device, dtype):
    rows, cols = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device),
                                indexing="ij")
    return torch.stack([rows, cols], dim=-1).to(torch.float32 if dtype is None else dtype)


def _grid_mistakes(i):
    g = reference_grid(i["h"], i["w"], i["device"], i["dtype"])
    return {"grid": [
        Mistake(g.flip(-1), "the two coordinates are swapped: grid[i, j] must be (i, j), the row "
                "index first (channel 0 = row i, channel 1 = column j)"),
        Mistake(g + 1, "the coordinates start at 1: torch.arange(n) counts 0, 1, ..., n - 1"),
    ]}


make_grid_tensor = Spec(
    name="ch02.make_grid_tensor",
    inputs=_grid_inputs,
    outputs=("grid",),
    oracle=_on_meta(lambda i: {"grid": reference_grid(i["h"], i["w"], i["device"], i["dtype"])}),
    tol=Tol(0.0, 0.0, "small integers are exact in float32 and float64"),
    cases=(Case("wide", 0, dict(h=3, w=5, dtype=torch.float32)),
           Case("tall float64", 1, dict(h=7, w=2, dtype=torch.float64)),
           Case("square", 2, dict(h=4, w=4, dtype=torch.float32)),
           Case("one row", 3, dict(h=1, w=6, dtype=torch.float32)),
           Case("integer", 4, dict(h=5, w=3, dtype=torch.int64)),
           Case("default dtype", 5, dict(h=2, w=3, dtype=None)),
           Case("meta device", 6, dict(h=3, w=4, dtype=torch.float64, meta=True))),
    mistakes=_no_meta(_grid_mistakes),
    error_hints=META_HINTS,
    sweep_salts=20,    # no randomness in the inputs: the salts prove the thread counts only
)


# ------------------------------------------------------------------------ one_hot
def _one_hot_inputs(rand, n, num_classes, meta=False):
    return {"labels": _meta(rand.randint(0, num_classes, n), meta), "num_classes": num_classes}


def _one_hot_oracle(i):
    return {"encoded": F.one_hot(i["labels"], i["num_classes"]).to(torch.float32)}


def _one_hot_mistakes(i):
    labels, c = i["labels"], i["num_classes"]
    shifted = "the classes are shifted by one: class k is column k, counting from 0 (a label " \
              "is already a column index)"
    return {"encoded": [
        Mistake((labels[:, None] == torch.arange(1, c + 1)).float(), shifted),
        Mistake((labels[:, None] == torch.arange(-1, c - 1)).float(), shifted),
        Mistake(1.0 - F.one_hot(labels, c).float(), "zeros and ones are swapped: the label's "
                "column holds 1, every other column 0"),
    ]}


one_hot = Spec(
    name="ch02.one_hot",
    inputs=_one_hot_inputs,
    outputs=("encoded",),
    oracle=_on_meta(_one_hot_oracle),
    tol=EXACT,
    cases=(Case("four classes", 50, dict(n=6, num_classes=4)),
           Case("one label", 51, dict(n=1, num_classes=3)),
           Case("ten classes", 52, dict(n=12, num_classes=10)),
           Case("two classes", 53, dict(n=9, num_classes=2)),
           Case("meta device", 54, dict(n=5, num_classes=3, meta=True))),
    mistakes=_no_meta(_one_hot_mistakes),
    error_hints=META_HINTS,
    sweep_salts=200,
)


# ------------------------------------------------------------------------ to_channels_first
def _images_inputs(rand, n, h, w, c, meta=False):
    return {"images": _meta(rand.randint(0, 256, n, h, w, c).to(torch.uint8), meta)}


def _images_oracle(i):
    return {"tensor": i["images"].permute(0, 3, 1, 2).to(torch.float64).div(255)
            .to(torch.float32).contiguous()}


def _images_mistakes(i):
    x = i["images"].to(torch.float64)
    n, h, w, c = x.shape
    found = [Mistake(x.reshape(n, c, h, w) / 255, "the numbers are in the wrong places: reshape "
                     "(or view) only reads the same memory in another shape; permute(0, 3, 1, 2) "
                     "moves the channel dimension"),
             Mistake(x.permute(0, 3, 1, 2), "the values run from 0 to 255: divide by 255 so that "
                     "they run from 0 to 1")]
    if h == w:
        found.append(Mistake(x.permute(0, 3, 2, 1) / 255, "height and width are swapped: "
                             "permute(0, 3, 1, 2) keeps height before width"))
    return {"tensor": found}


def _contiguous_property(inp, out, case):
    if out.get("contiguous") != 1.0:
        raise CheckFailure(
            f"to_channels_first: the result is not contiguous (case '{case.label}'): its numbers "
            "are not stored row after row in the new order\nHint: permute only changes the "
            "strides; call .contiguous() on the result (after permute and the division)")


to_channels_first = Spec(
    name="ch02.to_channels_first",
    inputs=_images_inputs,
    outputs=("tensor", "contiguous"),
    oracle=_on_meta(_images_oracle),
    # x / 255 and x * (1 / 255) in float32 differ by at most one unit in the last place.
    tol={"tensor": Tol(2e-7, 1e-7, "one division by 255 (or a product with 1/255) in float32: "
                       "at most an ulp apart")},
    cases=(Case("square RGB images", 60, dict(n=2, h=4, w=4, c=3)),
           Case("one channel", 61, dict(n=3, h=5, w=7, c=1)),
           Case("one image", 62, dict(n=1, h=6, w=2, c=3)),
           Case("meta device", 63, dict(n=2, h=3, w=5, c=3, meta=True))),
    mistakes=_no_meta(_images_mistakes),
    properties=(Property("contiguous", _contiguous_property,
                         "the statement asks for a contiguous tensor"),),
    error_hints=META_HINTS,
    sweep_salts=200,
)


# ------------------------------------------------------------------------ normalize_rows
def _norm_inputs(rand, n, d, dtype=torch.float32, zero_row=None, meta=False):
    x = rand.randn(n, d, dtype=dtype, scale=3.0)
    if zero_row is not None:
        x[zero_row] = 0
    return {"x": _meta(x, meta)}


def _norm_oracle(i):
    # F.normalize divides by max(||row||, eps): a zero row stays zero. In float64, then
    # rounded to the input's dtype.
    x = i["x"]
    return {"y": F.normalize(x.double(), p=2.0, dim=1, eps=1e-12).to(x.dtype)}


def _norm_mistakes(i):
    x = i["x"]
    return {"y": [
        Mistake(F.normalize(x, dim=0), "each column has norm 1: reduce over dim=1 (along "
                "each row), not dim=0"),
        Mistake(x / (x * x).sum(dim=1, keepdim=True), "you divided by the squared norm: take "
                "the square root (torch.linalg.vector_norm or x.norm(dim=1, keepdim=True))"),
        Mistake(x / x.norm(dim=1)[None, :] if x.shape[0] == x.shape[1] else None,
                "row i is divided by the norm of another row: keep the reduced dim "
                "(keepdim=True) so the norms broadcast along each row"),
        Mistake((x - x.mean(dim=1, keepdim=True)) / x.std(dim=1, keepdim=True),
                "you standardised the rows (zero mean, unit std): the exercise asks for unit "
                "L2 norm"),
    ]}


def _own_norm_property(inp, out, case):
    if out.get("normalize_calls") != 0.0:
        raise CheckFailure(
            f"normalize_rows called torch.nn.functional.normalize (case '{case.label}'), which "
            "the exercise asks you to write yourself\nHint: write it yourself: the norms with a "
            "reduction over dim=1 (keepdim=True), then one division by broadcasting")


_norm_cases = (Case("square", 12, dict(n=4, d=4)),   # first: a missing keepdim is named here
               Case("float32", 10, dict(n=5, d=3)),
               Case("float64", 11, dict(n=4, d=6, dtype=torch.float64)),
               Case("zero row", 13, dict(n=6, d=5, zero_row=2)),
               Case("one row", 14, dict(n=1, d=7, dtype=torch.float64)),
               Case("meta device", 15, dict(n=3, d=5, meta=True)))

normalize_rows = Spec(
    name="ch02.normalize_rows",
    inputs=_norm_inputs,
    outputs=("y", "normalize_calls"),
    oracle=_on_meta(_norm_oracle),
    tol={"y": F32},
    cases=_norm_cases,
    mistakes=_no_meta(_norm_mistakes),
    properties=(_float64_property("normalize_rows", _norm_oracle, ("y",), _no_meta(_norm_mistakes)),
                Property("written by hand", _own_norm_property, "the statement says write it "
                         "yourself: no call into F.normalize, through any name")),
    error_hints=META_HINTS,
    changed_hint="the exercise says do not modify x: compute a new tensor, x / norms (x /= ... "
                 "or x.div_(...) write into the caller's tensor)",
    sweep_salts=150,
)


# ------------------------------------------------------------------------ pairwise_sq_distances
def _pair_inputs(rand, n, m, d, dtype=torch.float32, meta=False, large=None):
    a = rand.randn(n, d, dtype=dtype)
    b = rand.randn(m, d, dtype=dtype)
    if n >= 2 and m >= 2 and not meta:
        b[1] = a[0]        # one pair at distance exactly 0: no negative rounding allowed to matter
    out = {"a": _meta(a, meta), "b": _meta(b, meta)}
    if large:
        N, M, D = large
        out["large"] = {"a": rand.randn(N, D, dtype=dtype), "b": rand.randn(M, D, dtype=dtype)}
    return out


def reference_sq_distances(a, b):
    # torch.cdist in float64 (exact enough), squared, back in the input's dtype
    return (torch.cdist(a.double(), b.double()) ** 2).to(a.dtype)


def _pair_oracle(i):
    return {"d2": reference_sq_distances(i["a"], i["b"])}


def _pair_mistakes(i):
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


pairwise_sq_distances = Spec(
    name="ch02.pairwise_sq_distances",
    inputs=_pair_inputs,
    outputs=("d2", "ops_small", "ops_large"),
    oracle=_on_meta(_pair_oracle),
    tol={"d2": F32_DIST},
    cases=(Case("float32", 20, dict(n=5, m=3, d=4)),
           Case("float64", 21, dict(n=6, m=7, d=3, dtype=torch.float64)),
           Case("square", 22, dict(n=4, m=4, d=2)),
           Case("single points", 23, dict(n=1, m=1, d=5, dtype=torch.float64)),
           Case("one dimension", 24, dict(n=3, m=8, d=1)),
           Case("meta device", 25, dict(n=3, m=4, d=2, meta=True)),
           # both sizes below 25 points: torch.cdist takes the same path for both
           Case("op count", 26, dict(n=6, m=5, d=3, large=(24, 20, 6)))),
    static=(NoLoops("compute all pairs at once with broadcasting or a matrix product"),),
    mistakes=_no_meta(_pair_mistakes),
    properties=(_float64_property("pairwise_sq_distances", _pair_oracle, ("d2",), _no_meta(_pair_mistakes)),
                _vectorised_property("pairwise_sq_distances", ("a", "b"),
                                     "compute all pairs at once with broadcasting or a matrix product")),
    error_hints=META_HINTS,
    sweep_salts=100,
)


# ------------------------------------------------------------------------ batched_outer
def _outer_inputs(rand, B, n, m, dtype=torch.float32, meta=False, large=None):
    out = {"u": _meta(rand.randn(B, n, dtype=dtype), meta),
           "v": _meta(rand.randn(B, m, dtype=dtype), meta)}
    if large:
        B2, n2, m2 = large
        out["large"] = {"u": rand.randn(B2, n2, dtype=dtype), "v": rand.randn(B2, m2, dtype=dtype)}
    return out


def _outer_oracle(i):
    return {"outer": torch.einsum("bi,bj->bij", i["u"], i["v"])}


def _outer_mistakes(i):
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
    outputs=("outer", "ops_small", "ops_large"),
    oracle=_on_meta(_outer_oracle),
    # a single product per entry: bit-exact in principle; allow float32 rounding of FMA paths
    tol={"outer": Tol(1e-6, 1e-7, "one multiplication per entry: exact up to the last bit of float32")},
    cases=(Case("float32", 30, dict(B=3, n=4, m=2)),
           Case("float64", 31, dict(B=2, n=3, m=5, dtype=torch.float64)),
           Case("square", 32, dict(B=4, n=3, m=3)),
           Case("batch of one", 33, dict(B=1, n=5, m=1)),
           Case("meta device", 34, dict(B=2, n=3, m=4, meta=True)),
           Case("op count", 35, dict(B=3, n=4, m=2, large=(12, 8, 6)))),
    static=(NoLoops("build every outer product at once with broadcasting, bmm or einsum"),),
    mistakes=_no_meta(_outer_mistakes),
    properties=(_float64_property("batched_outer", _outer_oracle, ("outer",), _no_meta(_outer_mistakes)),
                _vectorised_property("batched_outer", ("u", "v"),
                                     "build every outer product at once with broadcasting, bmm or einsum")),
    error_hints=META_HINTS,
    sweep_salts=100,
)


# ------------------------------------------------------------------------ center_columns_
def _center_inputs(rand, n, d, dtype=torch.float32, meta=False):
    return {"x": _meta(rand.randn(n, d, dtype=dtype, scale=2.0) + 3.0, meta)}


def _center_oracle(i):
    x = i["x"]
    return {"x": (x.double() - x.double().mean(dim=0, keepdim=True)).to(x.dtype), "same": 1.0}


def _center_mistakes(i):
    x = i["x"]
    return {
        "x": [Mistake(x, "x was left unchanged: center_columns_ must subtract the column means "
                      "from x itself, in place (x -= ..., or x.sub_(...)); x = x - ... only makes "
                      "a new tensor"),
              Mistake(x - x.mean(dim=1, keepdim=True), "each row was centred: subtract the mean "
                      "of each column, x.mean(dim=0)"),
              Mistake(x - x.mean(), "you subtracted the mean of all entries: one mean per "
                      "column, x.mean(dim=0)"),
              Mistake((x - x.mean(dim=0)) / x.std(dim=0), "the columns were also divided by "
                      "their standard deviation: only subtract the means")],
        "same": [Mistake(0.0, "return x itself (the same tensor object, as x.sub_(...) does), "
                         "not a new tensor")],
    }


center_columns_ = Spec(
    name="ch02.center_columns_",
    inputs=_center_inputs,
    outputs=("x", "same"),
    oracle=_on_meta(_center_oracle),
    tol={"x": F32, "same": EXACT},
    cases=(Case("float32", 70, dict(n=6, d=3)),
           Case("float64", 71, dict(n=5, d=4, dtype=torch.float64)),
           Case("one column", 72, dict(n=8, d=1)),
           Case("square", 73, dict(n=3, d=3)),
           Case("meta device", 74, dict(n=4, d=2, meta=True))),
    may_modify=("x",),
    mistakes=_no_meta(_center_mistakes),
    properties=(_float64_property("center_columns_", _center_oracle, ("x",), _no_meta(_center_mistakes)),),
    error_hints=META_HINTS,
    sweep_salts=150,
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
    return {"w1": (w1_t - lr * g1).detach().to(dt), "w2": (w2_t - lr * g2).detach().to(dt),
            "loss": loss.detach().to(dt)}


def _step_oracle(i):
    return reference_step(i["x"], i["y"], i["w1"], i["w2"], i["lr"])


def _step_mistakes(i):
    if i["x"].shape[1] > 100:   # named on the small cases, which come first
        return {}
    x, y, w1, w2, lr = (i[k] for k in ("x", "y", "w1", "w2", "lr"))
    h = x @ w1
    h_relu = h.clamp(min=0)
    y_pred = h_relu @ w2
    g = 2 * (y_pred - y)
    g2 = h_relu.T @ g
    g1 = x.T @ ((g @ w2.T) * (h > 0))
    w2_new = w2 - lr * g2
    mean = "this is the mean of the squared errors: the chapter's loss is their sum (and its " \
           "gradient 2 (y_pred - y), not divided by the number of entries)"
    g_mean = g / y.numel()
    return {
        "loss": [
            Mistake(((y_pred - y) ** 2).mean(), mean),
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
            Mistake(w1 - lr * (x.T @ ((g_mean @ w2.T) * (h > 0))), mean),
        ],
        "w2": [
            Mistake(w2 - lr * g2 / 2, "the step of w2 is half the expected: d/dy_pred of "
                    "(y_pred - y)^2 is 2 (y_pred - y)"),
            Mistake(w2 - lr * h.T @ g, "grad_w2 uses h: use h_relu, the input of the second "
                    "layer"),
            Mistake(w2 + lr * g2, "w2 moved up the gradient: subtract lr * grad (descent)"),
            Mistake(w2 - lr * (h_relu.T @ g_mean), mean),
        ],
    }


BY_HAND = ("gradients by hand in this chapter (autograd comes in chapter 03): no backward(), "
           "requires_grad, torch.autograd or torch.func; write grad_w1 and grad_w2 with the "
           "chain rule formulas")


def _by_hand_property(inp, out, case):
    saved = out.get("saved")
    if saved != 0.0:
        raise CheckFailure(f"two_layer_step used autograd: it recorded a graph for a backward "
                           f"pass (case '{case.label}')\nHint: {BY_HAND}")


_step_outputs = ("w1", "w2", "loss")

two_layer_step = Spec(
    name="ch02.two_layer_step",
    inputs=_step_inputs,
    outputs=_step_outputs + ("saved",),
    oracle=_on_meta(_step_oracle),
    tol={name: F32_NET for name in _step_outputs},
    cases=(Case("small float32", 43, dict(SIZES["small"], lr=1e-2)),
           Case("small float64", 41, dict(SIZES["small"], lr=1e-2, dtype=torch.float64)),
           Case("single float64", 42, dict(SIZES["single"], lr=5e-2, dtype=torch.float64)),
           Case("classic float32", 40, dict(SIZES["classic"], lr=1e-6)),
           Case("medium float64", 44, dict(N=16, D_in=50, H=20, D_out=4, lr=1e-3, dtype=torch.float64)),
           Case("meta device", 45, dict(SIZES["small"], lr=1e-2, meta=True))),
    # "You may update w1 and w2 in place": the weights may change; x and y may not.
    may_modify=("w1", "w2"),
    mistakes=_no_meta(_step_mistakes),
    properties=(_float64_property("two_layer_step", _step_oracle, _step_outputs, _no_meta(_step_mistakes)),
                Property("gradients by hand", _by_hand_property,
                         "the statement says no autograd: nothing may be saved for a backward pass")),
    error_hints=(("saved tensor hooks", BY_HAND),
                 ("does not require grad", BY_HAND)) + META_HINTS,
    sweep_salts=20,
)

SPECS = register(make_grid_tensor, one_hot, to_channels_first, batched_outer,
                 pairwise_sq_distances, normalize_rows, center_columns_, two_layer_step)
