"""Chapter 05: torch.nn (layers, losses, parameters, initialisation, checkpoints).

Oracles are PyTorch's own: F.linear/F.relu for the two-layer net, torch.optim.SGD for the
manual update, F.cross_entropy and F.binary_cross_entropy_with_logits (values AND
gradients by autograd) for the from-scratch losses, the sizes of the layers for the
initialisation statistics, and the grader's own copy of the state for the checkpoint.

Modules cannot cross to the grader (only plain tensors, floats and tuples do): the inputs
describe a model as plain data (layers and a state) and the harness
(autograder.learner.harness.ch05) builds it, calls the learner's function, and reads back
what the grader needs: type names as uint8 tensors of their UTF-8 bytes, weights as
tensors, facts as numbers.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.sgd import sgd as functional_sgd   # what torch.optim.SGD.step calls

from ...learner.harness.ch05 import build
from ..compare import CheckFailure, Mistake, Tol
from ..spec import Case, Property, Spec
from ..static import ForbiddenCalls
from . import register

# Same F.linear on both sides; CUDA may pick another matmul kernel (different summation order).
LINEAR_F32 = Tol(1e-5, 1e-6, "float32, same layers on both sides; CUDA may sum in another order")
# p - lr * g versus optim.SGD's fused p.add_(g, alpha=-lr): at most one float32 rounding apart.
SGD_F32 = Tol(1e-6, 1e-7, "float32: p - lr*g and the fused add of optim.SGD round once differently")
# A mean over up to 640 float32 terms, log/exp written another way than PyTorch's kernel.
LOSS = Tol(2e-5, 1e-6, "float32 log/exp written by hand vs PyTorch's fused kernel; means of <= 640 terms")
EXACT = Tol(0.0, 0.0, "set to an exact constant, or copied bit for bit")


def _decode(t) -> str:
    if type(t) is not torch.Tensor or t.dtype != torch.uint8 or t.ndim != 1:
        return "?"
    return bytes(t.cpu().tolist()).decode(errors="replace")


def _fail(exercise: str, problem: str, hint: str) -> None:
    raise CheckFailure(f"{exercise}: {problem}\nHint: {hint}")


def _fill_from(rand, module: nn.Module, scale: float = 1.0) -> None:
    """Overwrite every parameter of `module` with seeded normal values (same on every device)."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(rand.randn(*p.shape, dtype=p.dtype, scale=scale))


def _state(model: nn.Module) -> dict:
    """The model's state_dict as plain tensors; each parameter's copy keeps its
    requires_grad and a copy of its .grad (the harness rebuilds the model from it)."""
    params = dict(model.named_parameters())
    out = {}
    for k, v in model.state_dict().items():
        t = v.detach().clone()
        if k in params:
            p = params[k]
            t.requires_grad_(p.requires_grad)
            if p.grad is not None:
                t.grad = p.grad.detach().clone()
        out[k] = t
    return out


# ------------------------------------------------------------------ build_two_layer
def _build_inputs(rand, N, d_in, h, d_out):
    return {"d_in": d_in, "h": h, "d_out": d_out, "x": rand.randn(N, d_in)}


def _build_oracle(inp, out):
    ex = "build_two_layer"
    kind = _decode(out.get("kind"))
    if kind != "Sequential":
        _fail(ex, f"it returned a {kind}, not an nn.Sequential",
              f"it returned a {kind}, not an nn.Sequential: return "
              "nn.Sequential(nn.Linear(d_in, h), nn.ReLU(), nn.Linear(h, d_out))")
    layers = out.get("layers")
    layers = layers if type(layers) is tuple else ()
    names = [_decode(layer[0]) for layer in layers]
    if names != ["Linear", "ReLU", "Linear"]:
        if "ReLU" not in names and names.count("Linear") == 2 and len(names) == 2:
            hint = ("the ReLU between the two Linear layers is missing: without it the two "
                    "layers collapse into one linear map")
        elif names[:3] == ["Linear", "ReLU", "Linear"]:
            hint = "nothing comes after the second Linear: the output layer stays linear (no activation)"
        elif len(names) == 3 and names[0] == names[2] == "Linear":
            hint = f"the activation must be nn.ReLU, not {names[1]}"
        else:
            hint = "three layers: nn.Linear(d_in, h), nn.ReLU(), nn.Linear(h, d_out)"
        _fail(ex, f"the layers are [{', '.join(names)}]; expected [Linear, ReLU, Linear]", hint)
    d_in, h, d_out = inp["d_in"], inp["h"], inp["d_out"]
    (_, w1, b1), (_, _, _), (_, w2, b2) = layers
    for label, w, shape in (("first", w1, (h, d_in)), ("second", w2, (d_out, h))):
        got = tuple(w.shape) if type(w) is torch.Tensor else None
        if got != shape:
            _fail(ex, f"the {label} Linear has a weight of shape {got}; expected {shape}",
                  "nn.Linear(in_features, out_features) stores a weight of shape (out, in): "
                  "the first layer takes d_in features and gives h, the second takes h and gives d_out")
        if w.dtype != torch.float32:
            _fail(ex, f"the {label} Linear holds {w.dtype} weights", f"the layers hold {w.dtype} "
                  "weights: keep the default float32 (no .double())")
    for label, b in (("first", b1), ("second", b2)):
        if b is None:
            _fail(ex, f"the {label} Linear has no bias", f"the {label} Linear has no bias: keep "
                  "the biases (bias=True is the default)")
    dev = inp["x"].device
    w1, b1, w2, b2 = (t.to(dev) for t in (w1, b1, w2, b2))
    y = F.linear(F.relu(F.linear(inp["x"], w1, b1)), w2, b2)
    return {"n_params": float(h * d_in + h + d_out * h + d_out), "y": y}


build_two_layer = Spec(
    name="ch05.build_two_layer",
    inputs=_build_inputs,
    outputs=("kind", "layers", "n_params", "y"),
    oracle=_build_oracle,
    oracle_uses_outputs=True,
    tol={"n_params": EXACT, "y": LINEAR_F32},
    cases=(Case("classic", 0, dict(N=64, d_in=1000, h=100, d_out=10)),
           Case("one example", 1, dict(N=1, d_in=3, h=5, d_out=2)),
           Case("non-square", 2, dict(N=5, d_in=7, h=4, d_out=9))),
    sweep_salts=45,
)


# ------------------------------------------------------------------ manual_sgd_step
SGD_NAMES = ("w1", "b1", "w2", "b2")
SGD_PARAMS = ("0.weight", "0.bias", "2.weight", "2.bias")


def _sgd_inputs(rand, N, d_in, h, d_out, lr, frozen=False):
    """A small Linear-Tanh-Linear net after one backward pass, sent as plain data."""
    layers = [("Linear", d_in, h), ("Tanh",), ("Linear", h, d_out)]
    model = build(layers, rand.device)
    _fill_from(rand, model, scale=0.5)
    if frozen:
        model[0].bias.requires_grad_(False)
    x, y = rand.randn(N, d_in), rand.randn(N, d_out)
    F.mse_loss(model(x), y).backward()
    return {"layers": layers, "state": _state(model), "params": SGD_PARAMS, "lr": lr}


def _sgd_oracle(inp):
    """torch.optim.SGD's update on copies of the parameters and their gradients."""
    copies = []
    for k in SGD_PARAMS:
        p = inp["state"][k]
        q = p.detach().clone().requires_grad_(p.requires_grad)
        q.grad = None if p.grad is None else p.grad.clone()
        copies.append(q)
    # The update torch.optim.SGD.step performs (its functional form, which skips the first
    # step's seconds-long import of the compiler stack): only parameters with a gradient.
    with_grad = [q for q in copies if q.grad is not None]
    with torch.no_grad():
        functional_sgd(with_grad, [q.grad for q in with_grad], [None] * len(with_grad),
                       foreach=False, weight_decay=0.0, momentum=0.0, lr=inp["lr"],
                       dampening=0.0, nesterov=False, maximize=False)
    return dict(zip(SGD_NAMES, (q.detach() for q in copies)), same_params=1.0)


def _sgd_mistakes(inp):
    lr = inp["lr"]
    out = {}
    for name, k in zip(SGD_NAMES, SGD_PARAMS):
        p = inp["state"][k]
        if p.grad is None:
            continue
        d, g = p.detach(), p.grad
        out[name] = [
            Mistake(d, "the parameters did not change: `p = p - lr * p.grad` only rebinds a local "
                       "name; update the tensor itself in place (p -= lr * p.grad) inside torch.no_grad()"),
            Mistake(d + lr * g, "the step goes uphill: subtract lr * p.grad (descent), do not add it"),
            Mistake(d - g, "the learning rate is missing: the step is lr * p.grad"),
        ]
    out["same_params"] = [Mistake(0.0, "the model's parameters were replaced by new tensors (or "
                                        "their requires_grad changed): update each one in place "
                                        "(p -= lr * p.grad under torch.no_grad()) so the model, and any "
                                        "optimiser holding them, keep the same objects")]
    return out


manual_sgd_step = Spec(
    name="ch05.manual_sgd_step",
    inputs=_sgd_inputs,
    outputs=SGD_NAMES + ("same_params",),
    oracle=_sgd_oracle,
    tol={**{k: SGD_F32 for k in SGD_NAMES}, "same_params": EXACT},
    cases=(Case("small", 10, dict(N=8, d_in=5, h=4, d_out=3, lr=0.1)),
           Case("frozen bias", 11, dict(N=3, d_in=6, h=7, d_out=2, lr=0.5, frozen=True)),
           Case("one example", 12, dict(N=1, d_in=4, h=3, d_out=5, lr=0.01))),
    mistakes=_sgd_mistakes,
    error_hints=(
        ("leaf Variable that requires grad", "the update ran under autograd: a parameter is a leaf "
         "that requires grad, and PyTorch refuses to change it in place while recording; wrap the "
         "update in `with torch.no_grad():`"),
        ("NoneType", "a parameter without a gradient (p.grad is None, e.g. a frozen one) was "
         "updated: skip those with `if p.grad is None: continue`"),
    ),
    sweep_salts=100,
)


# ------------------------------------------------------------------ initialize_weights
# The grader's network: Conv2d, BatchNorm2d and Linear at the top level, and a nested
# block (a Conv2d and a BatchNorm2d one level down), and a BatchNorm1d.
INIT_LAYERS = [
    ("Conv2d", 64, 16, 3),                                                  # 0: conv_a
    ("BatchNorm2d", 16),                                                    # 1
    ("ReLU",),
    ("Sequential", [("Conv2d", 16, 32, 3), ("BatchNorm2d", 32), ("ReLU",)]),  # 3.0, 3.1: nested
    ("AdaptiveAvgPool2d", 1), ("Flatten",),
    ("Linear", 32, 512),                                                    # 6: linear_a
    ("BatchNorm1d", 512),                                                   # 7
    ("ReLU",),
    ("Linear", 512, 10),                                                    # 9: linear_b
]
WEIGHTED = {"0": "Conv2d(64, 16, 3)", "3.0": "Conv2d(16, 32, 3) in the nested block",
            "6": "Linear(32, 512)", "9": "Linear(512, 10)"}
NORMS = {"1": "BatchNorm2d(16)", "3.1": "BatchNorm2d(32) in the nested block", "7": "BatchNorm1d(512)"}
NESTED = ("3.0", "3.1")
INIT_PARAMS = tuple(f"{m}.{p}" for m in ("0", "1", "3.0", "3.1", "6", "7", "9") for p in ("weight", "bias"))
INIT_OUTPUTS = INIT_PARAMS + ("same parameters", "parameters moved off the meta device")


def _init_inputs(rand):
    model = build(INIT_LAYERS, rand.device)
    _fill_from(rand, model)            # every weight, bias and BN affine parameter: N(0, 1)
    return {"layers": INIT_LAYERS, "state": _state(model), "params": INIT_PARAMS}


def _init_oracle(inp):
    s = inp["state"]
    out = {f"{m}.bias": torch.zeros_like(s[f"{m}.bias"]) for m in (*WEIGHTED, *NORMS)}
    out.update({f"{m}.weight": torch.ones_like(s[f"{m}.weight"]) for m in NORMS})
    return {k: out[k] for k in INIT_PARAMS if k in out}


def _init_mistakes(inp):
    s = inp["state"]
    nested = ("the layers inside the nested block were not initialised: walk model.modules() "
              "(every module at every depth), not model.children()")
    out = {}
    for m in WEIGHTED:
        out[f"{m}.bias"] = [Mistake(s[f"{m}.bias"], nested if m in NESTED else
                                    "the Conv2d/Linear biases kept their old values: set them to "
                                    "zero with nn.init.zeros_(m.bias)")]
    for m in NORMS:
        old_w, old_b = s[f"{m}.weight"], s[f"{m}.bias"]
        kept = (nested if m in NESTED else
                "the BatchNorm1d layer was not initialised: treat every BatchNorm (1d and 2d), "
                "e.g. isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))" if m == "7" else
                "the BatchNorm weights kept their old values: set them to 1 (nn.init.ones_ or "
                "nn.init.constant_(m.weight, 1))")
        out[f"{m}.weight"] = [Mistake(old_w, kept),
                              Mistake(torch.zeros_like(old_w), "the BatchNorm weight (its scale) must "
                                      "be 1, not 0")]
        out[f"{m}.bias"] = [Mistake(old_b, kept if m in NESTED or m == "7" else
                                    "the BatchNorm biases kept their old values: set them to 0"),
                            Mistake(torch.ones_like(old_b), "the BatchNorm bias (its shift) must be 0, not 1")]
    return out


# Sample statistics of n independent draws: the std of the sample std is ~ std / sqrt(2 n)
# (<= 1.1% for the smallest layer, n = 4608); 5% is over 4.5 of those. The sample kurtosis
# of a normal is 3 with a std of ~sqrt(24 / n) <= 0.072; a uniform has 1.8. The harness
# seeds the global generator before the call, so a correct answer draws the same values
# for every salt: these bounds cannot fail it by chance.
STD_TOL, KURT_BAND, MEAN_SIGMAS = 0.05, (2.6, 3.4), 5.0


def _layer_facts(spec):
    kind, *args = spec
    if kind == "Conv2d":
        c_in, c_out, k = args
        return "conv", c_in * k * k, c_out * k * k
    return "linear", args[0], args[1]


def _init_stats(inp, out, case):
    specs = {"0": INIT_LAYERS[0], "3.0": INIT_LAYERS[3][1][0], "6": INIT_LAYERS[6], "9": INIT_LAYERS[9]}
    for m, label in WEIGHTED.items():
        old = inp["state"][f"{m}.weight"]
        w = out.get(f"{m}.weight")
        if type(w) is not torch.Tensor or tuple(w.shape) != tuple(old.shape):
            _fail("initialize_weights", f"the weight of {label} is not a tensor of shape "
                  f"{tuple(old.shape)} any more", "initialise the existing weights in place (nn.init.*_)")
        w = w.detach().double().cpu().reshape(-1)
        n = w.numel()
        kind, fan_in, fan_out = _layer_facts(specs[m])
        if kind == "conv":
            target = math.sqrt(2.0 / fan_out)
            rule = f"kaiming normal, mode='fan_out', relu: sqrt(2 / fan_out) = {target:.4g} (fan_out = {fan_out})"
            wrong = {math.sqrt(2.0 / fan_in): "that is what mode='fan_in' gives: pass mode='fan_out'",
                     math.sqrt(2.0 / (fan_in + fan_out)): "that is Xavier's std: use nn.init.kaiming_normal_",
                     math.sqrt(1.0 / fan_out): "that is the gain of a linear layer: pass nonlinearity='relu'"}
        else:
            target = 0.01
            rule = "normal with mean 0 and std 0.01"
            wrong = {math.sqrt(2.0 / (fan_in + fan_out)): "that is Xavier's std: use "
                     "nn.init.normal_(m.weight, mean=0.0, std=0.01)"}
        std, mean = float(w.std()), float(w.mean())
        kurt = float(((w - mean) ** 4).mean() / w.var(unbiased=False) ** 2)
        problem = None
        if abs(std / target - 1) > STD_TOL:
            problem = f"sample std {std:.4g}, expected {rule} (within {STD_TOL:.0%})"
            hint = next((h for v, h in wrong.items() if abs(std / v - 1) <= STD_TOL), None)
            untouched = torch.equal(w, old.detach().double().cpu().reshape(-1))
            if hint is None and untouched:
                hint = "this weight was not changed at all: is this layer reached by your loop?"
            elif hint is None and abs(std - 1) < STD_TOL and kind == "linear":
                hint = "normal_(w, 0.01) sets the MEAN to 0.01 and keeps std 1: pass std=0.01 by keyword"
            hint = hint or f"use {rule}"
        elif abs(mean) > MEAN_SIGMAS * target / math.sqrt(n):
            problem = f"sample mean {mean:.4g}; expected 0 (|mean| <= {MEAN_SIGMAS * target / math.sqrt(n):.2g})"
            hint = "the mean of the normal must be 0: nn.init.normal_(w, mean=0.0, std=...)"
        elif not KURT_BAND[0] <= kurt <= KURT_BAND[1]:
            problem = (f"the values are not normally distributed (kurtosis {kurt:.2f}; a normal has 3, "
                       f"allowed {KURT_BAND[0]}..{KURT_BAND[1]}; a uniform has 1.8)")
            hint = "use a *normal* initialiser (kaiming_normal_ / normal_), not a uniform one"
        if problem:
            _fail("initialize_weights", f"the weight of {label} ({n} values): {problem}", hint)


def _init_in_place(inp, out, case):
    if out.get("same parameters") != 1.0:
        _fail("initialize_weights", "the model's parameters are not the same tensors any more",
              "the parameters were replaced by new tensors: initialise them in place (nn.init.*_ "
              "functions, or .normal_() / .zero_() under torch.no_grad()), so that an optimiser "
              "holding them still updates the model")
    moved = out.get("parameters moved off the meta device")
    if moved != 0.0:
        _fail("initialize_weights", f"on a model that lives on the `meta` device, {moved:g} "
              "parameter(s) ended up on another device",
              "a tensor was created without device= and assigned to a parameter: initialise the "
              "existing tensors in place, which keeps them on the model's device")


initialize_weights = Spec(
    name="ch05.initialize_weights",
    inputs=_init_inputs,
    outputs=INIT_OUTPUTS,
    oracle=_init_oracle,
    tol=EXACT,
    cases=(Case("conv-bn-linear net", 20),),
    mistakes=_init_mistakes,
    error_hints=(("incompatible tensor type", "a tensor created without device= was assigned to a "
                  "parameter (or its .data): initialise the existing tensors in place instead "
                  "(nn.init.*_ or .normal_() under torch.no_grad()), which keeps them on the "
                  "model's device"),
                 ("device meta", "a tensor was created without device=: initialise the existing "
                  "tensors in place instead, which keeps them on the model's device")),
    properties=(Property("in place, on the model's device", _init_in_place,
                         "the parameters are initialised in place (same tensors, same device)"),
                Property("weight statistics", _init_stats,
                         "std within 5% of the rule's, mean ~ 0 and a normal's kurtosis, per layer")),
    sweep_salts=20,
)


# ------------------------------------------------------------------ cross_entropy_from_scratch
CE_FORBIDDEN = ForbiddenCalls(frozenset({"cross_entropy", "nll_loss", "log_softmax", "logsumexp",
                                         "CrossEntropyLoss", "NLLLoss", "LogSoftmax"}),
                              "write the log-sum-exp yourself, with the max trick")


def _ce_inputs(rand, N, C, scale=1.0, dtype=torch.float32):
    return {"logits": rand.randn(N, C, scale=scale, dtype=dtype), "target": rand.randint(0, C, N)}


def _loss_kind_oracle(exercise, reference, cure):
    """Expected loss and gradient; first, a clear word for results autograd cannot use, and
    for losses that overflow or saturate on large logits (the point of the exercise)."""
    def oracle(inp, out):
        loss, grad = out.get("loss"), out.get("grad")
        if type(loss) is float:
            _fail(exercise, "it returned a Python number, not a tensor",
                  "it returned a Python number: return the loss tensor itself (no .item() or "
                  "float()), so autograd can differentiate it")
        if type(loss) is torch.Tensor and loss.numel() == 1 and grad is None:
            _fail(exercise, "the loss is not connected to `logits` in the autograd graph",
                  "the loss is not connected to `logits` in the autograd graph: compute it from "
                  "`logits` with torch operations only, no .detach(), .item(), torch.tensor(...) "
                  "or numpy on the way")
        expected = reference(inp)
        big = float(inp["logits"].detach().abs().max())
        if type(loss) is torch.Tensor and loss.numel() == 1 and big > 100:
            got, want = float(loss.detach().double().cpu().reshape(())), float(expected["loss"])
            if not math.isfinite(got) or (grad is not None and not bool(torch.isfinite(grad).all())):
                _fail(exercise, f"for logits up to {big:.3g} the loss or its gradient is inf or nan "
                      f"(expected {want:.6g})", f"exp overflowed (or a log of 0): {cure}")
            if abs(got - want) > 1e-3 * abs(want):
                _fail(exercise, f"for logits up to {big:.3g} the loss is {got:.6g}, expected {want:.6g}",
                      f"the loss saturates for large logits: probabilities rounded to 0 or 1 (or "
                      f"clamped) before the log lose the true value; {cure}")
        return expected
    return oracle


def _with_grad(f, logits):
    x = logits.detach().clone().requires_grad_(True)
    loss = f(x)
    (g,) = torch.autograd.grad(loss, x)
    return loss.detach(), g


def _ce_oracle(inp):
    loss, grad = _with_grad(lambda x: F.cross_entropy(x, inp["target"]), inp["logits"])
    return {"loss": loss, "grad": grad}


def _ce_mistakes(inp):
    t, logits = inp["target"], inp["logits"]
    idx = torch.arange(len(t), device=t.device)
    wrong = {
        "the loss is summed over the batch: cross-entropy averages over the N examples (mean)":
            lambda x: F.cross_entropy(x, t, reduction="sum"),
        "the sign is flipped: the loss is MINUS the log-probability of the right class":
            lambda x: -F.cross_entropy(x, t),
        "the softmax ran over the batch (dim 0): it must run over the classes (dim 1)":
            lambda x: -torch.log_softmax(x, dim=0)[idx, t].mean(),
        "this is the mean log-probability of every class: pick the target's with x[range(N), target]":
            lambda x: -torch.log_softmax(x, dim=1).mean(),
    }
    out = {"loss": [], "grad": []}
    for hint, f in wrong.items():
        loss, grad = _with_grad(f, logits)
        out["loss"].append(Mistake(loss, hint))
        out["grad"].append(Mistake(grad, hint))
    return out


NO_DEVICE = ("a tensor was created without device= (e.g. torch.zeros(...), torch.ones(...), "
             "torch.arange(...) or torch.tensor(...)): it lands on the default device, not on the "
             "logits'. Create new tensors with device=logits.device or *_like, or use plain "
             "Python numbers (and range(N) to index)")


def _device_property(exercise):
    def check(inp, out, case):
        if out.get("same with another default device") != 1.0:
            _fail(exercise, "run again while tensors made without device= land on another device "
                  f"(meta), it raised an error or gave another result (case '{case.label}')", NO_DEVICE)
    return Property("device of new tensors", check, "new tensors are made on the logits' device")


def _no_built_in_property(exercise, names):
    def check(inp, out, case):
        n = out.get("built-in loss operations")
        if n != 0.0:
            _fail(exercise, f"it ran {n:g} operation(s) of PyTorch's own losses (case '{case.label}')",
                  f"it calls a built-in the exercise forbids ({names}), maybe through a helper "
                  "or an alias: write the formula yourself with max, exp, log, log1p, sum, mean")
    return Property("no built-in loss", check, "the loss is written by hand")


DEVICE_HINTS = (("device meta", NO_DEVICE),)

cross_entropy_from_scratch = Spec(
    name="ch05.cross_entropy_from_scratch",
    inputs=_ce_inputs,
    outputs=("loss", "grad", "same with another default device", "built-in loss operations"),
    oracle=_loss_kind_oracle("cross_entropy_from_scratch", _ce_oracle,
                             "subtract each row's max before exp (the max trick), and take "
                             "log-probabilities as x - logsumexp, never log(softmax)"),
    oracle_uses_outputs=True,
    tol=LOSS,
    cases=(Case("small", 30, dict(N=4, C=3)),
           Case("one example", 31, dict(N=1, C=5)),
           Case("batch 64, 10 classes", 32, dict(N=64, C=10)),
           Case("huge logits", 33, dict(N=8, C=6, scale=1e4)),
           Case("float64", 34, dict(N=6, C=4, dtype=torch.float64))),
    static=(CE_FORBIDDEN,),
    mistakes=_ce_mistakes,
    properties=(_no_built_in_property("cross_entropy_from_scratch",
                                      "cross_entropy, nll_loss, log_softmax, logsumexp"),
                _device_property("cross_entropy_from_scratch")),
    error_hints=DEVICE_HINTS,
    sweep_salts=60,
)


# ------------------------------------------------------------------ bce_with_logits_from_scratch
BCE_FORBIDDEN = ForbiddenCalls(frozenset({"binary_cross_entropy_with_logits", "binary_cross_entropy",
                                          "BCEWithLogitsLoss", "BCELoss", "softplus", "Softplus",
                                          "logsigmoid", "LogSigmoid"}),
                               "write the stable formula yourself (max, abs, log1p, exp)")


def _bce_inputs(rand, shape, scale=1.0, soft=False, pw=None, dtype=torch.float32):
    logits = rand.randn(*shape, scale=scale, dtype=dtype)
    if soft:
        target = rand.uniform(*shape, dtype=dtype)
    else:
        target = (rand.uniform(*shape) < 0.3).to(dtype)     # imbalanced: ~30% positives
    pos_weight = None
    if pw == "per class":
        pos_weight = rand.uniform(shape[-1], low=0.5, high=10.0, dtype=dtype)
    elif pw is not None:
        pos_weight = torch.full((1,), float(pw), dtype=dtype, device=rand.device)
    return {"logits": logits, "target": target, "pos_weight": pos_weight}


def _bce_oracle(inp):
    t, pw = inp["target"], inp["pos_weight"]
    loss, grad = _with_grad(lambda x: F.binary_cross_entropy_with_logits(x, t, pos_weight=pw),
                            inp["logits"])
    return {"loss": loss, "grad": grad}


def _bce_mistakes(inp):
    t, pw = inp["target"], inp["pos_weight"]
    bce = F.binary_cross_entropy_with_logits
    wrong = {"the loss is summed: average it over every element (mean)":
             lambda x: bce(x, t, pos_weight=pw, reduction="sum"),
             "the sign is flipped: the loss is MINUS the log-likelihood":
             lambda x: -bce(x, t, pos_weight=pw)}
    if pw is not None:
        wrong.update({
            "pos_weight was ignored: it multiplies the positive term y * log(sigmoid(x))":
                lambda x: bce(x, t),
            "pos_weight multiplies the whole loss: it weighs only the positive term y * log(sigmoid(x))":
                lambda x: (bce(x, t, reduction="none") * pw).mean(),
            "pos_weight went to the negative term: it weighs y * log(sigmoid(x)), the positives":
                lambda x: (pw * (1 - t) * F.softplus(x) + t * F.softplus(-x)).mean(),
        })
    out = {"loss": [], "grad": []}
    for hint, f in wrong.items():
        loss, grad = _with_grad(f, inp["logits"])
        out["loss"].append(Mistake(loss, hint))
        out["grad"].append(Mistake(grad, hint))
    return out


bce_with_logits_from_scratch = Spec(
    name="ch05.bce_with_logits_from_scratch",
    inputs=_bce_inputs,
    outputs=("loss", "grad", "same with another default device", "built-in loss operations"),
    oracle=_loss_kind_oracle("bce_with_logits_from_scratch", _bce_oracle,
                             "write log(1 + e^z) as max(z, 0) + log1p(exp(-|z|)), which never "
                             "overflows"),
    oracle_uses_outputs=True,
    tol=LOSS,
    cases=(Case("small", 40, dict(shape=(4, 3))),
           Case("soft targets", 41, dict(shape=(5, 2), soft=True)),
           Case("pos_weight per class", 42, dict(shape=(16, 4), pw="per class")),
           Case("huge logits", 43, dict(shape=(8, 5), scale=1e4, pw="per class")),
           Case("imbalanced 1-D, pos_weight 9", 44, dict(shape=(40,), pw=9.0)),
           Case("one example", 45, dict(shape=(1, 1), pw=3.0)),
           Case("float64", 46, dict(shape=(6, 3), pw="per class", dtype=torch.float64))),
    static=(BCE_FORBIDDEN,),
    mistakes=_bce_mistakes,
    properties=(_no_built_in_property("bce_with_logits_from_scratch",
                                      "the BCE losses, softplus, logsigmoid"),
                _device_property("bce_with_logits_from_scratch")),
    error_hints=DEVICE_HINTS,
    sweep_salts=45,
)


# ------------------------------------------------------------------ save_and_reload
CKPT_LAYERS = [("Linear", 5, 8), ("BatchNorm1d", 8), ("ReLU",), ("Linear", 8, 3)]
STATE_KEYS = tuple(build(CKPT_LAYERS).state_dict().keys())
SAVE_OUTPUTS = ("returned", "file", "original", "loaded") + STATE_KEYS


def _save_inputs(rand, training=True):
    model = build(CKPT_LAYERS, rand.device)
    _fill_from(rand, model)
    with torch.no_grad():                 # a few batches so the BatchNorm buffers hold real statistics
        for _ in range(3):
            model(rand.randn(16, 5))
    return {"layers": CKPT_LAYERS, "state": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "keys": STATE_KEYS, "training": training}


SAVE_MESSAGES = {
    "returned": {0.0: "it did not return a model: return the nn.Module with the loaded state "
                       "(load_state_dict returns a report, not the model)",
                 1.0: "it returned the very model it was given: load the saved state into a new "
                      "model (e.g. fresh_model_like(model)) and return that one",
                 2.0: "the returned model has another type or other parameter/buffer names than "
                      "the original: rebuild the same architecture",
                 4.0: "the returned model is not on the CPU: build the new model on the CPU "
                      "(fresh_model_like does) and load with map_location='cpu'"},
    "file": {0.0: "nothing was written at `path`: torch.save(model.state_dict(), path)",
             1.0: "the file is not a state_dict (torch.load(path, weights_only=True) cannot read it "
                  "as a dict of tensors): save model.state_dict(), not the model object",
             2.0: "the file does not hold every entry of model.state_dict() (parameters AND buffers "
                  "such as BatchNorm's running_mean): save model.state_dict()",
             3.0: "the saved tensors differ from the model's: save model.state_dict() as it is"},
    "original": {0.0: "the model you were given changed (its values, its parameters, or its "
                      "device: `.cpu()` / `.to()` move a module in place, so on a GPU machine it "
                      "would now be on the CPU): leave it as it was and work on the new model",
                 2.0: "the train/eval mode of the model you were given changed (.train() / .eval() "
                      "switch a module in place): leave it as it was"},
    "loaded": {0.0: "the file at `path` was never read back: load the new model's state from "
                    "it with torch.load(path, map_location='cpu')",
               2.0: "the file was read with torch.load but without map_location: a checkpoint "
                    "saved from a GPU then fails to load on a machine without one; pass "
                    "map_location='cpu'"},
}


def _save_oracle(inp, out):
    for key, expected in (("original", 1.0), ("file", 4.0), ("returned", 3.0), ("loaded", 1.0)):
        got = out.get(key)
        if got != expected:
            _fail("save_and_reload", f"{key}: {got!r}", SAVE_MESSAGES[key].get(
                got, "the round trip is: save the state_dict, build a new model, load the "
                "state into it with map_location='cpu' (section 9)"))
    expected = {k: v.detach().cpu() for k, v in inp["state"].items()}
    for key, exp in expected.items():
        got = out.get(key)
        if (type(got) is torch.Tensor and got.shape == exp.shape and got.dtype == exp.dtype
                and got.device == exp.device and not torch.equal(got, exp)):
            _fail("save_and_reload", f"the returned model's `{key}` differs from the original's, "
                  "although the file is right", "load the saved state into the new model: "
                  "new.load_state_dict(torch.load(path, map_location='cpu'))")
    return dict(expected, returned=3.0, file=4.0, original=1.0, loaded=1.0)


save_and_reload = Spec(
    name="ch05.save_and_reload",
    inputs=_save_inputs,
    outputs=SAVE_OUTPUTS,
    oracle=_save_oracle,
    oracle_uses_outputs=True,
    tol=EXACT,
    cases=(Case("linear-bn-linear", 50), Case("in eval mode", 51, dict(training=False))),
    error_hints=(("Can't pickle", "torch.save(model) pickles the whole model object: save "
                  "model.state_dict(), a dict of tensors"),
                 ("Weights only load failed", "the file holds more than tensors: save "
                  "model.state_dict(), which torch.load(path, weights_only=True) reads safely")),
    sweep_salts=45,
)

SPECS = register(build_two_layer, manual_sgd_step, initialize_weights, cross_entropy_from_scratch,
                 bce_with_logits_from_scratch, save_and_reload)
