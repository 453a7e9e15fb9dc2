"""Chapter 05: torch.nn (layers, losses, parameters, initialisation, checkpoints).

Oracles are PyTorch's own: F.linear/F.relu for the two-layer net, torch.optim.SGD for the
manual update, F.cross_entropy and F.binary_cross_entropy_with_logits (values AND
gradients by autograd) for the from-scratch losses, the sizes of the layers for the
initialisation statistics, and the grader's own copy of the state for the checkpoint.

Modules cannot cross to the grader (only plain tensors, floats and tuples do), so each
`call` below reads what the grader needs out of the learner's module: type names as
uint8 tensors of their UTF-8 bytes, weights as tensors, facts as numbers.
"""

from __future__ import annotations

import math
import os
import tempfile

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.sgd import sgd as functional_sgd   # what torch.optim.SGD.step calls

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


def _name_bytes(obj) -> torch.Tensor:
    """The class name of `obj` as a uint8 tensor: a plain value that can cross."""
    return torch.tensor(list(type(obj).__name__.encode()), dtype=torch.uint8)


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


def _quiet_build(factory):
    """Build a module without disturbing the global random state."""
    with torch.random.fork_rng(devices=[]):
        return factory()


# ------------------------------------------------------------------ build_two_layer
def _build_inputs(rand, N, d_in, h, d_out):
    return {"d_in": d_in, "h": h, "d_out": d_out, "x": rand.randn(N, d_in)}


def _call_build(fn, i):
    model = fn(i["d_in"], i["h"], i["d_out"])
    if not isinstance(model, nn.Module):
        return _name_bytes(model), (), 0.0, None
    layers = []
    for m in model.children():
        is_linear = isinstance(m, nn.Linear)
        layers.append((_name_bytes(m), m.weight if is_linear else None,
                       m.bias if is_linear else None))
    n_params = float(sum(p.numel() for p in model.parameters()))
    try:                               # layers of the wrong sizes fail here: the oracle says why
        model = model.to(i["x"].device)
        with torch.no_grad():
            y = model(i["x"])
    except Exception:  # noqa: BLE001
        y = None
    return _name_bytes(model), tuple(layers), n_params, y


def _build_oracle(inp, out):
    ex = "build_two_layer"
    kind = _decode(out.get("kind"))
    if kind != "Sequential":
        _fail(ex, f"it returned a {kind}, not an nn.Sequential",
              "return nn.Sequential(nn.Linear(d_in, h), nn.ReLU(), nn.Linear(h, d_out))")
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
            _fail(ex, f"the {label} Linear holds {w.dtype} weights", "keep the default float32 (no .double())")
    for label, b in (("first", b1), ("second", b2)):
        if b is None:
            _fail(ex, f"the {label} Linear has no bias", "keep the biases: bias=True is the default")
    dev = inp["x"].device
    w1, b1, w2, b2 = (t.to(dev) for t in (w1, b1, w2, b2))
    y = F.linear(F.relu(F.linear(inp["x"], w1, b1)), w2, b2)
    return {"n_params": float(h * d_in + h + d_out * h + d_out), "y": y}


build_two_layer = Spec(
    name="ch05.build_two_layer",
    inputs=_build_inputs,
    call=_call_build,
    outputs=("kind", "layers", "n_params", "y"),
    oracle=_build_oracle,
    oracle_uses_outputs=True,
    tol={"n_params": EXACT, "y": LINEAR_F32},
    cases=(Case("classic", 0, dict(N=64, d_in=1000, h=100, d_out=10)),
           Case("one example", 1, dict(N=1, d_in=3, h=5, d_out=2)),
           Case("non-square", 2, dict(N=5, d_in=7, h=4, d_out=9))),
)


# ------------------------------------------------------------------ manual_sgd_step
def _sgd_inputs(rand, N, d_in, h, d_out, lr, frozen=False):
    model = _quiet_build(lambda: nn.Sequential(nn.Linear(d_in, h), nn.ReLU(), nn.Linear(h, d_out)))
    model = model.to(rand.device)
    _fill_from(rand, model, scale=0.5)
    if frozen:
        model[0].bias.requires_grad_(False)
    x, y = rand.randn(N, d_in), rand.randn(N, d_out)
    F.mse_loss(model(x), y).backward()
    return {"model": model, "lr": lr}


SGD_NAMES = ("w1", "b1", "w2", "b2")


def _call_sgd(fn, i):
    model = i["model"]
    before = list(model.parameters())
    fn(model, i["lr"])
    after = list(model.parameters())
    same = float(len(before) == len(after) and all(a is b for a, b in zip(before, after)))
    named = dict(model.named_parameters())
    return tuple(named.get(k) for k in ("0.weight", "0.bias", "2.weight", "2.bias")) + (same,)


def _sgd_oracle(inp):
    """torch.optim.SGD's update on copies of the parameters and their gradients."""
    copies = []
    for p in inp["model"].parameters():
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
    lr, params = inp["lr"], list(inp["model"].parameters())
    out = {}
    for name, p in zip(SGD_NAMES, params):
        if p.grad is None:
            continue
        d, g = p.detach(), p.grad
        out[name] = [
            Mistake(d, "the parameters did not change: `p = p - lr * p.grad` only rebinds a local "
                       "name; update the tensor itself in place (p -= lr * p.grad) inside torch.no_grad()"),
            Mistake(d + lr * g, "the step goes uphill: subtract lr * p.grad (descent), do not add it"),
            Mistake(d - g, "the learning rate is missing: the step is lr * p.grad"),
        ]
    out["same_params"] = [Mistake(0.0, "the model's parameters were replaced by new tensors: update "
                                        "each one in place (p -= lr * p.grad under torch.no_grad()) so "
                                        "the model, and any optimiser holding them, keep the same objects")]
    return out


manual_sgd_step = Spec(
    name="ch05.manual_sgd_step",
    inputs=_sgd_inputs,
    call=_call_sgd,
    outputs=SGD_NAMES + ("same_params",),
    oracle=_sgd_oracle,
    tol={**{k: SGD_F32 for k in SGD_NAMES}, "same_params": EXACT},
    cases=(Case("small", 10, dict(N=8, d_in=5, h=4, d_out=3, lr=0.1)),
           Case("frozen bias", 11, dict(N=3, d_in=6, h=7, d_out=2, lr=0.5, frozen=True)),
           Case("one example", 12, dict(N=1, d_in=4, h=3, d_out=5, lr=0.01))),
    mistakes=_sgd_mistakes,
)


# ------------------------------------------------------------------ initialize_weights
# The grader's network: Conv2d, BatchNorm2d and Linear at the top level, and a nested
# block (a Conv2d and a BatchNorm2d one level down), and a BatchNorm1d.
def _init_model():
    return nn.Sequential(
        nn.Conv2d(64, 16, 3),                                              # conv_a
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Sequential(nn.Conv2d(16, 32, 3), nn.BatchNorm2d(32), nn.ReLU()),  # conv_b (nested)
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(32, 512),                                                # linear_a
        nn.BatchNorm1d(512),
        nn.ReLU(),
        nn.Linear(512, 10),                                                # linear_b
    )


def _init_layers(model):
    conv_a, bn_a, block, lin_a, bn_c, lin_b = model[0], model[1], model[3], model[6], model[7], model[9]
    conv_b, bn_b = block[0], block[1]
    return (conv_a, conv_b, lin_a, lin_b), (bn_a, bn_b, bn_c)


def _init_inputs(rand):
    model = _quiet_build(_init_model).to(rand.device)
    _fill_from(rand, model)            # every weight, bias and BN affine parameter: N(0, 1)
    return {"model": model}


def _call_init(fn, i):
    model = i["model"]
    torch.manual_seed(20_05)           # the learner's init draws from the global generator
    fn(model)
    (conv_a, conv_b, lin_a, lin_b), bns = _init_layers(model)
    biases = torch.cat([m.bias.detach().reshape(-1) for m in (conv_a, conv_b, lin_a, lin_b)])
    bn_w = torch.cat([m.weight.detach().reshape(-1) for m in bns])
    bn_b = torch.cat([m.bias.detach().reshape(-1) for m in bns])
    return conv_a.weight, conv_b.weight, lin_a.weight, lin_b.weight, biases, bn_w, bn_b


def _init_oracle(inp):
    layers, bns = _init_layers(inp["model"])
    n_b = sum(m.bias.numel() for m in layers)
    n_bn = sum(m.weight.numel() for m in bns)
    dev = inp["model"][0].weight.device
    return {"biases": torch.zeros(n_b, device=dev), "bn_weight": torch.ones(n_bn, device=dev),
            "bn_bias": torch.zeros(n_bn, device=dev)}


def _init_mistakes(inp):
    layers, bns = _init_layers(inp["model"])
    old_b = [m.bias.detach().reshape(-1) for m in layers]
    old_w = [m.weight.detach().reshape(-1) for m in bns]
    old_bb = [m.bias.detach().reshape(-1) for m in bns]
    z = torch.zeros_like
    nested = ("the layers inside the nested block were not initialised: walk model.modules() "
              "(every module at every depth), not model.children()")
    return {
        "biases": [
            Mistake(torch.cat(old_b), "the Conv2d/Linear biases kept their old values: set them to "
                                      "zero with nn.init.zeros_(m.bias)"),
            Mistake(torch.cat([z(old_b[0]), old_b[1], z(old_b[2]), z(old_b[3])]), nested),
        ],
        "bn_weight": [
            Mistake(torch.cat(old_w), "the BatchNorm weights kept their old values: set them to 1 "
                                      "(nn.init.ones_ or nn.init.constant_(m.weight, 1))"),
            Mistake(torch.cat([torch.ones_like(old_w[0]), old_w[1], torch.ones_like(old_w[2])]), nested),
            Mistake(torch.cat([torch.ones_like(old_w[0]), torch.ones_like(old_w[1]), old_w[2]]),
                    "the BatchNorm1d layer was not initialised: treat every BatchNorm (1d and 2d), "
                    "e.g. isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))"),
            Mistake(torch.cat([z(w) for w in old_w]), "the BatchNorm weight (its scale) must be 1, not 0"),
        ],
        "bn_bias": [
            Mistake(torch.cat(old_bb), "the BatchNorm biases kept their old values: set them to 0"),
            Mistake(torch.cat([torch.ones_like(b) for b in old_bb]), "the BatchNorm bias (its shift) "
                                                                     "must be 0, not 1"),
        ],
    }


# Sample statistics of n independent draws: the std of the sample std is ~ std / sqrt(2 n)
# (<= 1.1% for the smallest layer, n = 4608); 5% is over 4.5 of those. The sample kurtosis
# of a normal is 3 with a std of ~sqrt(24 / n) <= 0.072; a uniform has 1.8.
STD_TOL, KURT_BAND, MEAN_SIGMAS = 0.05, (2.6, 3.4), 5.0


def _init_stats(inp, out, case):
    layers, _ = _init_layers(inp["model"])
    for label, m, key in zip(("Conv2d(64, 16, 3)", "Conv2d(16, 32, 3) in the nested block",
                              "Linear(32, 512)", "Linear(512, 10)"), layers,
                             ("conv_a", "conv_b", "linear_a", "linear_b")):
        w = out.get(key)
        if type(w) is not torch.Tensor or tuple(w.shape) != tuple(m.weight.shape):
            _fail("initialize_weights", f"the weight of {label} is not a tensor of shape "
                  f"{tuple(m.weight.shape)} any more", "initialise the existing weights in place (nn.init.*_)")
        w = w.detach().double().cpu().reshape(-1)
        n = w.numel()
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1]
            fan_in, fan_out = m.in_channels * k, m.out_channels * k
            target = math.sqrt(2.0 / fan_out)
            rule = f"kaiming normal, mode='fan_out', relu: sqrt(2 / fan_out) = {target:.4g} (fan_out = {fan_out})"
            wrong = {math.sqrt(2.0 / fan_in): "that is what mode='fan_in' gives: pass mode='fan_out'",
                     math.sqrt(2.0 / (fan_in + fan_out)): "that is Xavier's std: use nn.init.kaiming_normal_",
                     math.sqrt(1.0 / fan_out): "that is the gain of a linear layer: pass nonlinearity='relu'"}
        else:
            target = 0.01
            rule = "normal with mean 0 and std 0.01"
            wrong = {math.sqrt(2.0 / (m.in_features + m.out_features)): "that is Xavier's std: use "
                     "nn.init.normal_(m.weight, mean=0.0, std=0.01)"}
        std, mean = float(w.std()), float(w.mean())
        kurt = float(((w - mean) ** 4).mean() / w.var(unbiased=False) ** 2)
        problem = None
        if abs(std / target - 1) > STD_TOL:
            problem = f"sample std {std:.4g}, expected {rule} (within {STD_TOL:.0%})"
            hint = next((h for v, h in wrong.items() if abs(std / v - 1) <= STD_TOL), None)
            untouched = torch.equal(w, m.weight.detach().double().cpu().reshape(-1))
            if hint is None and untouched:
                hint = "this weight was not changed at all: is this layer reached by your loop?"
            elif hint is None and abs(std - 1) < STD_TOL and isinstance(m, nn.Linear):
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
            _fail("initialize_weights", f"the weight of {label} (device {w.device}, {n} values): {problem}",
                  hint)


initialize_weights = Spec(
    name="ch05.initialize_weights",
    inputs=_init_inputs,
    call=_call_init,
    outputs=("conv_a", "conv_b", "linear_a", "linear_b", "biases", "bn_weight", "bn_bias"),
    oracle=_init_oracle,
    tol=EXACT,
    cases=(Case("conv-bn-linear net", 20),),
    mistakes=_init_mistakes,
    properties=(Property("weight statistics", _init_stats,
                         "std within 5% of the rule's, mean ~ 0 and a normal's kurtosis, per layer"),),
)


# ------------------------------------------------------------------ cross_entropy_from_scratch
CE_FORBIDDEN = ForbiddenCalls(frozenset({"cross_entropy", "nll_loss", "log_softmax", "logsumexp",
                                         "CrossEntropyLoss", "NLLLoss", "LogSoftmax"}),
                              "write the log-sum-exp yourself, with the max trick")


def _ce_inputs(rand, N, C, scale=1.0, dtype=torch.float32):
    return {"logits": rand.randn(N, C, scale=scale, dtype=dtype), "target": rand.randint(0, C, N)}


def _loss_and_grad(loss, logits):
    grad = None
    if type(loss) is torch.Tensor and loss.requires_grad and loss.numel() == 1:
        (grad,) = torch.autograd.grad(loss.reshape(()), logits, allow_unused=True)
    return loss, grad


def _call_ce(fn, i):
    logits = i["logits"].detach().clone().requires_grad_(True)
    return _loss_and_grad(fn(logits, i["target"].clone()), logits)


def _loss_kind_oracle(exercise, reference):
    """Expected loss and gradient; first, a clear word for results autograd cannot use."""
    def oracle(inp, out):
        loss, grad = out.get("loss"), out.get("grad")
        if type(loss) is float:
            _fail(exercise, "it returned a Python number, not a tensor",
                  "return the loss tensor itself (no .item() or float()), so autograd can "
                  "differentiate it")
        if type(loss) is torch.Tensor and loss.numel() == 1 and grad is None:
            _fail(exercise, "the loss is not connected to `logits` in the autograd graph",
                  "compute it from `logits` with torch operations only: no .detach(), .item(), "
                  "torch.tensor(...) or numpy on the way")
        return reference(inp)
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


cross_entropy_from_scratch = Spec(
    name="ch05.cross_entropy_from_scratch",
    inputs=_ce_inputs,
    call=_call_ce,
    outputs=("loss", "grad"),
    oracle=_loss_kind_oracle("cross_entropy_from_scratch", _ce_oracle),
    oracle_uses_outputs=True,
    tol=LOSS,
    cases=(Case("small", 30, dict(N=4, C=3)),
           Case("one example", 31, dict(N=1, C=5)),
           Case("batch 64, 10 classes", 32, dict(N=64, C=10)),
           Case("huge logits", 33, dict(N=8, C=6, scale=1e4)),
           Case("float64", 34, dict(N=6, C=4, dtype=torch.float64))),
    static=(CE_FORBIDDEN,),
    mistakes=_ce_mistakes,
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


def _call_bce(fn, i):
    logits = i["logits"].detach().clone().requires_grad_(True)
    target = i["target"].clone()
    if i["pos_weight"] is None:
        loss = fn(logits, target)
    else:
        loss = fn(logits, target, pos_weight=i["pos_weight"].clone())
    return _loss_and_grad(loss, logits)


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
    call=_call_bce,
    outputs=("loss", "grad"),
    oracle=_loss_kind_oracle("bce_with_logits_from_scratch", _bce_oracle),
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
)


# ------------------------------------------------------------------ save_and_reload
def _ckpt_model():
    return nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


STATE_KEYS = tuple(_ckpt_model().state_dict().keys())


def _save_inputs(rand):
    model = _quiet_build(_ckpt_model).to(rand.device)
    _fill_from(rand, model)
    with torch.no_grad():                 # a few batches so the BatchNorm buffers hold real statistics
        for _ in range(3):
            model(rand.randn(16, 5))
    return {"model": model}


def _call_save(fn, i):
    model = i["model"]
    device = next(model.parameters()).device
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "checkpoint.pt")
        new = fn(model, path)
        if not os.path.exists(path):
            file_code = 0.0
        else:
            try:
                saved = torch.load(path, map_location="cpu", weights_only=True)
            except Exception:  # noqa: BLE001 - anything but a plain state_dict
                saved = None
            if not isinstance(saved, dict):
                file_code = 1.0
            elif set(saved) != set(before):
                file_code = 2.0
            else:
                same = all(type(saved[k]) is torch.Tensor and torch.equal(saved[k], before[k].cpu())
                           for k in before)
                file_code = 4.0 if same else 3.0
    original = float(next(model.parameters()).device == device and
                     all(torch.equal(v, before[k]) for k, v in model.state_dict().items()))
    if new is model:
        returned = 1.0
    elif not isinstance(new, nn.Module):
        returned = 0.0
    elif type(new) is not type(model) or set(new.state_dict()) != set(STATE_KEYS):
        returned = 2.0
    else:
        returned = 3.0
    state = new.state_dict() if returned == 3.0 else {}
    return (returned, file_code, original) + tuple(state.get(k) for k in STATE_KEYS)


SAVE_MESSAGES = {
    "returned": {0.0: "it did not return a model: return the nn.Module with the loaded state "
                       "(load_state_dict returns a report, not the model)",
                 1.0: "it returned the very model it was given: load the saved state into a fresh "
                      "model (fresh_model_like(model)) and return that one",
                 2.0: "the returned model has another type or other parameter/buffer names than "
                      "the original: rebuild the same architecture"},
    "file": {0.0: "nothing was written at `path`: torch.save(model.state_dict(), path)",
             1.0: "the file is not a state_dict (torch.load(path, weights_only=True) cannot read it "
                  "as a dict of tensors): save model.state_dict(), not the model object",
             2.0: "the file does not hold every entry of model.state_dict() (parameters AND buffers "
                  "such as BatchNorm's running_mean): save model.state_dict()",
             3.0: "the saved tensors differ from the model's: save model.state_dict() as it is"},
    "original": {0.0: "the model you were given changed (its values, or its device: `.to()` moves "
                      "a module in place): leave it as it was"},
}


def _save_oracle(inp, out):
    for key, expected in (("returned", 3.0), ("file", 4.0), ("original", 1.0)):
        got = out.get(key)
        if got != expected:
            _fail("save_and_reload", SAVE_MESSAGES[key].get(got, f"unexpected {key} {got!r}"),
                  "the round trip is: save the state_dict, build a fresh model, load the "
                  "state into it with map_location='cpu' (section 9)")
    expected = {k: v.detach().cpu() for k, v in inp["model"].state_dict().items()}
    for key, exp in expected.items():
        got = out.get(key)
        if (type(got) is torch.Tensor and got.shape == exp.shape and got.dtype == exp.dtype
                and got.device == exp.device and not torch.equal(got, exp)):
            _fail("save_and_reload", f"the returned model's `{key}` differs from the original's, "
                  "although the file is right", "load the saved state into the new model: "
                  "new.load_state_dict(torch.load(path, map_location='cpu'))")
    return expected


save_and_reload = Spec(
    name="ch05.save_and_reload",
    inputs=_save_inputs,
    call=_call_save,
    outputs=("returned", "file", "original") + STATE_KEYS,
    oracle=_save_oracle,
    oracle_uses_outputs=True,
    tol=EXACT,
    cases=(Case("linear-bn-linear", 50), Case("another seed", 51)),
)

SPECS = register(build_two_layer, manual_sgd_step, initialize_weights, cross_entropy_from_scratch,
                 bce_with_logits_from_scratch, save_and_reload)
