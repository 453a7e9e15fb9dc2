"""Chapter 06: torch.optim. Optimizers written by hand, learning-rate schedules, resuming.

Oracles are PyTorch's own: torch.optim.SGD / Adam drive the same small float64 network
through the same steps as the learner's class, the built-in lr_scheduler classes give the
schedules, and uninterrupted training with the built-ins is what resuming must reproduce.

The learner's optimizer class runs on the learner side (autograder.learner.harness.ch06):
its `drive` loop builds the parameters (two param groups with different learning rates,
one parameter that never gets a gradient), calls `step()` 100+ times and captures the
stacked parameter trajectory, a plain (steps, P) float64 tensor; the oracle drives
torch.optim through the same loop. Known wrong answers are recomputed with
torch built-ins where one exists (AdamW, Adam without amsgrad, ...) and with the small
hand-written variants below where none does (no bias correction, eps inside the sqrt...).
"""

from __future__ import annotations

import copy
import warnings

import torch

from ...learner.harness.ch06 import PARAM_NAMES, Factories, drive, flat, schedule_kw
# The notebook's locked loop: the very code a kernel gets as the stand-in.
from ..isolation.ch06 import train_one_epoch as reference_train_one_epoch
from ..compare import EXACT, CheckFailure, Mistake, Tol, Where, compare
from ..spec import Case, Property, Spec, describe_inputs
from ..static import ForbiddenCalls
from . import register

# The same update rule in float64 on both sides; the learner may order the arithmetic
# differently (p - lr*(g + wd*p) vs p.add_(g, alpha=-lr)...), which changes the last bit of a
# step. Over 120 steps these 1e-16 differences grow, but stay far below 1e-9.
TRAJECTORY = Tol(1e-9, 1e-11, "float64 over 120 steps: each step may round its last bit differently")
# A closed form base_lr * gamma**k vs PyTorch's repeated multiplication lr *= gamma.
SCHEDULE = Tol(1e-12, 1e-15, "closed form vs repeated multiplication: rounding of ~1e-16 per epoch")

# ============================================================ the optimizers' test bench
def _bench_inputs(rand, N=8, D_in=5, H=7, D_out=3, steps=120, first=None, closure=False,
                  resume_at=0, **hp):
    """A two-layer float64 net and its data; `first`: the first param group's own settings;
    `resume_at`: the step after which the optimizer is rebuilt from its state_dict()."""
    inp = {"x": rand.randn(N, D_in, dtype=torch.float64), "y": rand.randn(N, D_out, dtype=torch.float64),
           "w1": rand.randn(D_in, H, dtype=torch.float64, scale=0.5),
           "b1": rand.randn(H, dtype=torch.float64, scale=0.1),
           "w2": rand.randn(H, D_out, dtype=torch.float64, scale=0.5),
           "spare": rand.randn(3, dtype=torch.float64),
           "steps": steps, "closure": closure, "resume_at": resume_at}
    inp["first"] = dict(first or {})
    inp["hp"] = dict(hp)
    return inp


def _drive(make_optimizer, inp) -> torch.Tensor:
    """The trajectory of the bench under `make_optimizer` (the learner-side loop)."""
    return drive(make_optimizer, inp)[0]


def _frozen(inp) -> torch.Tensor:
    """What an optimizer that never calls the closure produces: nothing moves."""
    start = torch.cat([inp[k].flatten() for k in PARAM_NAMES])
    return start.expand(inp["steps"], -1).clone()


def _one_lr(inp) -> dict:
    """The first group's own settings ignored: every group uses the defaults."""
    return dict(inp, first={})


CLOSURE_HINT = ("nothing moved when step(closure) was called: if a closure is given, call it "
                "(under torch.enable_grad()) to compute the loss and gradients before updating")
GROUP_HINT = ("the first param group moved with the defaults: read lr and the other settings "
              "from each `group` in self.param_groups, not from self.defaults")
STATE_HINT = ("training went on differently after the optimizer was rebuilt and loaded with "
              "load_state_dict(optimizer.state_dict()): keep every per-parameter value (momentum "
              "buffer, m, v, step count) in self.state[p], which is what state_dict() saves")
OUTPUTS = ("trajectory", "step(closure) returned the loss", "tensors made without device=")


def _explained(exercise, oracle, mistakes):
    """An oracle(inputs, outputs) that returns the expected trajectory when the learner's is
    within tolerance, and otherwise explains the difference with the known mistakes. Each
    mistake is a whole training run, so they are computed only for a wrong answer, one by
    one until one matches (their values are thunks)."""
    def explain(inp, out):
        expected = oracle(inp)
        got = out.get("trajectory")
        if (type(got) is torch.Tensor and got.shape == expected["trajectory"].shape
                and got.dtype == expected["trajectory"].dtype
                and torch.allclose(got, expected["trajectory"], rtol=TRAJECTORY.rtol, atol=TRAJECTORY.atol)):
            return expected
        found = ()
        if type(got) is torch.Tensor and got.shape == expected["trajectory"].shape:
            for m in mistakes(inp)["trajectory"]:       # each value is a thunk: a training run
                value = m.value()
                if torch.allclose(got.double(), value.double(), rtol=1e-6, atol=1e-8):
                    found = (Mistake(value, m.hint),)
                    break
        where = Where(f"{exercise}: `trajectory`", str(inp["x"].device), describe_inputs(inp), found)
        compare(got, expected["trajectory"], TRAJECTORY, where)
        return expected
    return explain


def _forgetful(builtin):
    """`builtin` whose load_state_dict loads nothing: what an optimizer that keeps its state
    outside self.state gives after a resume."""
    class Forgetful(builtin):
        def load_state_dict(self, state_dict):
            pass
    return Forgetful


def _contract(exercise):
    def check(inp, out, case):
        if out.get("step(closure) returned the loss") != 1.0:
            raise CheckFailure(f"{exercise}: step(closure) did not return the loss the closure "
                               f"returned (case '{case.label}')\nHint: step(closure) must return "
                               "the closure's loss: loss = closure() (under torch.enable_grad()), "
                               "then `return loss` at the end of step")
        made = out.get("tensors made without device=")
        if made != 0.0:
            raise CheckFailure(f"{exercise}: {made:g} tensor(s) of the optimizer's state were created "
                               f"without device= (case '{case.label}')\nHint: a tensor was created "
                               "without device=: on a GPU it would sit on the CPU next to CUDA "
                               "parameters. Create state with torch.zeros_like(p) or p.clone() "
                               "(a 0-dim step counter may stay on the CPU)")
    return Property("contract", check, "step(closure) returns the loss; state on the parameters' device")


# ------------------------------------------------------------------------ MySGD
class _SGDVariant(torch.optim.Optimizer):
    """Wrong SGDs real learners write (for the messages only, never the oracle)."""

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0,
                 mistake=""):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      nesterov=nesterov, weight_decay=weight_decay))
        self.mistake = mistake

    @torch.no_grad()
    def step(self, closure=None):
        if closure is not None:
            with torch.enable_grad():
                closure()
        for group in self.param_groups:
            m, d = group["momentum"], group["dampening"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad + group["weight_decay"] * p
                if m:
                    if self.mistake == "no memory":
                        buf = g.clone()
                    elif "momentum_buffer" not in self.state[p]:
                        buf = g.clone() if self.mistake != "dampened first" else (1 - d) * g
                    else:
                        buf = m * self.state[p]["momentum_buffer"] + (1 - d) * g
                    self.state[p]["momentum_buffer"] = buf
                    g = g + m * buf if group["nesterov"] else buf
                p -= group["lr"] * g


ERROR_HINTS = (
    ("a leaf Variable that requires grad", "the update ran under autograd: decorate step with "
     "@torch.no_grad() (a parameter is a leaf that requires grad; PyTorch refuses to change it in "
     "place while recording)"),
    ("must be a class derived from torch.optim.Optimizer", "write a class: class MyOpt(torch.optim.Optimizer)"),
    ("write step() yourself", "derive from torch.optim.Optimizer itself, not from the built-in "
     "optimizer: the exercise is writing step()"),
    ("does not require grad and does not have a grad_fn", "the closure ran under torch.no_grad() "
     "(step is decorated with it), so its loss has no graph: call it inside `with "
     "torch.enable_grad():`"),
)


def _sgd_oracle(inp):
    return {"trajectory": _drive(lambda groups: torch.optim.SGD(groups, **inp["hp"]), inp)}


def _sgd_mistakes(inp):
    hp = inp["hp"]
    out = [Mistake(lambda: _drive(lambda g: torch.optim.SGD(g, **hp), _one_lr(inp)), GROUP_HINT)]
    if hp.get("weight_decay") or inp["first"].get("weight_decay") is not None:
        out.append(Mistake(lambda: _drive(lambda g: torch.optim.SGD(g, **dict(hp, weight_decay=0.0)),
                                  dict(inp, first={k: v for k, v in inp["first"].items()
                                                   if k != "weight_decay"})),
                           "weight_decay is ignored: add weight_decay * p to the gradient first"))
    if hp.get("nesterov"):
        out.append(Mistake(lambda: _drive(lambda g: torch.optim.SGD(g, **dict(hp, nesterov=False)), inp),
                           "this is plain momentum: with nesterov=True the step uses g + momentum * buf"))
    if hp.get("momentum"):
        out.append(Mistake(lambda: _drive(lambda g: _SGDVariant(g, **hp, mistake="no memory"), inp),
                           "the momentum buffer is not kept between steps: store it in "
                           "self.state[p]['momentum_buffer'] and reuse it at the next step"))
        out.append(Mistake(lambda: _drive(lambda g: torch.optim.SGD(g, **dict(hp, momentum=0.0, dampening=0.0,
                                                                     nesterov=False)), inp),
                           "momentum is ignored: this is plain gradient descent"))
    if hp.get("dampening") and hp.get("momentum"):
        out.append(Mistake(lambda: _drive(lambda g: _SGDVariant(g, **hp, mistake="dampened first"), inp),
                           "the first step is dampened: PyTorch starts the buffer as the gradient "
                           "itself (buf = g), dampening applies from the second step on"))
    if inp["closure"]:
        out.append(Mistake(lambda: _frozen(inp), CLOSURE_HINT))
    if inp["resume_at"]:
        out.append(Mistake(lambda: _drive(lambda g: _forgetful(torch.optim.SGD)(g, **hp), inp), STATE_HINT))
    return {"trajectory": out}


SGD_CASES = (
    Case("plain, two lrs", 0, dict(lr=0.1, first=dict(lr=0.3))),
    Case("momentum 0.9, resumed from state_dict", 1, dict(lr=0.05, momentum=0.9, first=dict(lr=0.01),
                                                         resume_at=60)),
    Case("dampening + weight decay", 2, dict(lr=0.05, momentum=0.9, dampening=0.3,
                                              weight_decay=1e-2, first=dict(lr=0.02))),
    Case("nesterov, no decay on group 1", 3, dict(lr=0.04, momentum=0.8, nesterov=True,
                                                  weight_decay=5e-2,
                                                  first=dict(lr=0.1, weight_decay=0.0))),
    Case("closure, batch 1, odd sizes", 4, dict(N=1, D_in=3, H=4, D_out=1, lr=0.05, momentum=0.5,
                                                closure=True, first=dict(lr=0.2))),
)

MySGD = Spec(
    name="ch06.MySGD",
    inputs=_bench_inputs,
    outputs=OUTPUTS,
    oracle=_explained("MySGD", _sgd_oracle, _sgd_mistakes),
    oracle_uses_outputs=True,
    tol={"trajectory": TRAJECTORY, "step(closure) returned the loss": EXACT,
         "tensors made without device=": EXACT},
    cases=SGD_CASES,
    properties=(_contract("MySGD"),),
    error_hints=ERROR_HINTS,
    sweep_salts=12,
)


# ------------------------------------------------------------------------ MyAdam
class _AdamVariant(torch.optim.Optimizer):
    """Wrong Adams real learners write (for the messages only, never the oracle)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, mistake=""):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad))
        self.mistake = mistake

    @torch.no_grad()
    def step(self, closure=None):
        if closure is not None:
            with torch.enable_grad():
                closure()
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st.update(t=0, m=torch.zeros_like(p), v=torch.zeros_like(p), vmax=torch.zeros_like(p))
                st["t"] += 1
                if self.mistake == "shared step":          # one counter for every parameter
                    self.shared = getattr(self, "shared", 0) + 1
                    st["t"] = self.shared
                g = p.grad + group["weight_decay"] * p
                st["m"] = b1 * st["m"] + (1 - b1) * g
                st["v"] = b2 * st["v"] + (1 - b2) * g * g
                v = st["v"]
                if group["amsgrad"]:
                    st["vmax"] = torch.maximum(st["vmax"], st["v"])
                    v = st["vmax"]
                if self.mistake == "shared step":
                    m_hat, v_hat = st["m"] / (1 - b1 ** st["t"]), v / (1 - b2 ** st["t"])
                    p -= group["lr"] * m_hat / (v_hat.sqrt() + group["eps"])
                elif self.mistake == "no bias correction":
                    p -= group["lr"] * st["m"] / (v.sqrt() + group["eps"])
                elif self.mistake == "eps inside sqrt":
                    m_hat, v_hat = st["m"] / (1 - b1 ** st["t"]), v / (1 - b2 ** st["t"])
                    p -= group["lr"] * m_hat / (v_hat + group["eps"]).sqrt()


def _adam_oracle(inp):
    return {"trajectory": _drive(lambda groups: torch.optim.Adam(groups, **inp["hp"]), inp)}


def _adam_mistakes(inp):
    hp = inp["hp"]
    out = [Mistake(lambda: _drive(lambda g: torch.optim.Adam(g, **hp), _one_lr(inp)), GROUP_HINT),
           Mistake(lambda: _drive(lambda g: _AdamVariant(g, **hp, mistake="no bias correction"), inp),
                   "the bias correction is missing: divide m by 1 - beta1**t and v by 1 - beta2**t "
                   "(t counts this parameter's steps from 1)"),
           Mistake(lambda: _drive(lambda g: _AdamVariant(g, **hp, mistake="eps inside sqrt"), inp),
                   "eps is inside the square root: the denominator is sqrt(v_hat) + eps"),
           Mistake(lambda: _drive(lambda g: _AdamVariant(g, **hp, mistake="shared step"), inp),
                   "one step count t is shared by all parameters: each parameter counts its own "
                   "steps, in self.state[p] (the bias corrections 1 - beta**t use that count)")]
    b1, b2 = hp.get("betas", (0.9, 0.999))
    out.append(Mistake(lambda: _drive(lambda g: torch.optim.Adam(g, **dict(hp, betas=(b2, b1))), inp),
                       "beta1 and beta2 are swapped: m (the mean) uses beta1, v (the square) beta2"))
    if hp.get("weight_decay"):
        out.append(Mistake(lambda: _drive(lambda g: torch.optim.AdamW(g, **hp), inp),
                           "this is AdamW's decoupled weight decay: Adam adds weight_decay * p "
                           "to the gradient before the averages"))
        out.append(Mistake(lambda: _drive(lambda g: torch.optim.Adam(g, **dict(hp, weight_decay=0.0)), inp),
                           "weight_decay is ignored: add weight_decay * p to the gradient first"))
    if hp.get("amsgrad"):
        out.append(Mistake(lambda: _drive(lambda g: torch.optim.Adam(g, **dict(hp, amsgrad=False)), inp),
                           "amsgrad is ignored: with amsgrad=True divide by the running maximum of v"))
    if inp["closure"]:
        out.append(Mistake(lambda: _frozen(inp), CLOSURE_HINT))
    if inp["resume_at"]:
        out.append(Mistake(lambda: _drive(lambda g: _forgetful(torch.optim.Adam)(g, **hp), inp), STATE_HINT))
    return {"trajectory": out}


ADAM_CASES = (
    Case("defaults, two lrs, resumed from state_dict", 10, dict(lr=1e-2, first=dict(lr=3e-2),
                                                               resume_at=50)),
    Case("betas, eps, weight decay", 11, dict(lr=2e-2, betas=(0.8, 0.99), eps=1e-6,
                                              weight_decay=1e-2, first=dict(lr=5e-3))),
    Case("amsgrad", 12, dict(lr=1e-2, amsgrad=True, weight_decay=1e-3, first=dict(lr=2e-2))),
    # betas (0.8, 0.99), not (0.5, 0.9): with a single example the net fits it exactly, the
    # gradients fall towards 0, and with beta2 = 0.9 Adam's denominator forgets the earlier
    # gradients so fast that each step stays ~lr in the direction of the sign of a gradient
    # made of rounding noise: trajectories of correct answers drifted apart chaotically (up
    # to 1e-5, on ~60% of the salts). With beta2 = 0.99 the steps shrink with the gradient:
    # worst error ratio 3e-5 over 500 salts (solution and alternatives).
    Case("closure, batch 1, odd sizes", 13, dict(N=1, D_in=3, H=4, D_out=1, lr=5e-2,
                                                 betas=(0.8, 0.99), closure=True,
                                                 first=dict(lr=1e-2))),
)

MyAdam = Spec(
    name="ch06.MyAdam",
    inputs=_bench_inputs,
    outputs=OUTPUTS,
    oracle=_explained("MyAdam", _adam_oracle, _adam_mistakes),
    oracle_uses_outputs=True,
    tol={"trajectory": TRAJECTORY, "step(closure) returned the loss": EXACT,
         "tensors made without device=": EXACT},
    cases=ADAM_CASES,
    properties=(_contract("MyAdam"),),
    error_hints=ERROR_HINTS,
    sweep_salts=12,
)


# ============================================================ lr_schedule
def _schedule_inputs(rand, kind, epochs, **kw):
    """Plain settings; for LambdaLR the harness makes lr_lambda from `warmup` and `decay`."""
    base_lr = round(float(rand.uniform(1, low=0.01, high=1.0)), 4)
    return {"kind": kind, "base_lr": base_lr, "epochs": epochs, "kw": dict(kw)}


def builtin_schedule(kind, base_lr, epochs, **kw) -> list[float]:
    """The learning rate of each epoch, as PyTorch's scheduler reports it."""
    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([param], lr=base_lr)
    sched = getattr(torch.optim.lr_scheduler, kind)(opt, **kw)
    lrs = []
    for _ in range(epochs):
        lrs.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    return lrs


def _schedule_oracle(inp):
    return {"lrs": tuple(builtin_schedule(inp["kind"], inp["base_lr"], inp["epochs"], **schedule_kw(inp))),
}


def _schedule_mistakes(inp):
    kind, lr0, n, kw = inp["kind"], inp["base_lr"], inp["epochs"], schedule_kw(inp)
    gamma = kw.get("gamma", 0.1)
    out = [Mistake(tuple(builtin_schedule(kind, lr0, n + 1, **kw)[1:]),
                   "every lr comes one epoch early: epoch e uses the lr after e scheduler steps, "
                   "so epoch 0 uses base_lr")]
    if kind == "StepLR":
        out.append(Mistake(tuple(lr0 * gamma ** (e / kw["step_size"]) for e in range(n)),
                           "the decay is smooth: StepLR multiplies by gamma only every step_size "
                           "epochs (integer division e // step_size)"))
    if kind == "MultiStepLR":
        out.append(Mistake(tuple(lr0 * gamma ** sum(e > m for m in kw["milestones"]) for e in range(n)),
                           "the decay comes one epoch late: at epoch == milestone the lr is "
                           "already multiplied by gamma (e >= milestone)"))
    if kind == "LambdaLR":
        out.append(Mistake(tuple(float(kw["lr_lambda"](e)) for e in range(n)),
                           "lr_lambda gives a factor: multiply it by base_lr"))
    return {"lrs": out}


def _no_scheduler(inp, out, case):
    n = out.get("schedulers built")
    if n != 0.0:
        raise CheckFailure(f"lr_schedule: {n:g} learning-rate scheduler(s) were built while it ran "
                           f"(case '{case.label}')\nHint: a scheduler was built (maybe in a helper): "
                           "compute the schedule with a formula; the built-in schedulers are the "
                           "grader's oracle")


SCHEDULE_CASES = (
    Case("StepLR", 20, dict(kind="StepLR", epochs=11, step_size=3, gamma=0.5)),
    Case("StepLR, one epoch", 21, dict(kind="StepLR", epochs=1, step_size=1, gamma=0.1)),
    Case("MultiStepLR", 22, dict(kind="MultiStepLR", epochs=12, milestones=[2, 5, 9], gamma=0.3)),
    Case("ExponentialLR", 23, dict(kind="ExponentialLR", epochs=9, gamma=0.8)),
    Case("LambdaLR (warm-up, then decay)", 24, dict(kind="LambdaLR", epochs=10, warmup=4, decay=0.9)),
    Case("MultiStepLR, default gamma", 25, dict(kind="MultiStepLR", epochs=8, milestones=[3, 6])),
)

lr_schedule = Spec(
    name="ch06.lr_schedule",
    inputs=_schedule_inputs,
    outputs=("lrs", "schedulers built"),
    oracle=_schedule_oracle,
    tol=SCHEDULE,
    cases=SCHEDULE_CASES,
    static=(ForbiddenCalls(frozenset({"StepLR", "MultiStepLR", "ExponentialLR", "LambdaLR",
                                      "get_last_lr", "get_lr"}),
                           "compute the schedule yourself; the built-in schedulers are the grader's oracle"),),
    mistakes=_schedule_mistakes,
    properties=(Property("no scheduler", _no_scheduler, "the schedule is computed, not read off a scheduler"),),
    error_hints=(("KeyError: 'gamma'", "gamma is optional: StepLR and MultiStepLR use 0.1 when it "
                  "is not given (kw.get('gamma', 0.1))"),),
    sweep_salts=200,
)


# ============================================================ resume_training


def _resume_inputs(rand, N, D_in, H, D_out, n_batches, before, after, optimizer, scheduler):
    batches = [(rand.randn(N, D_in, dtype=torch.float64), rand.randn(N, D_out, dtype=torch.float64))
               for _ in range(n_batches)]
    return {"factories": (rand.seed, rand.device, D_in, H, D_out, optimizer, scheduler),
            "batches": batches, "epochs_before": before, "epochs_after": after}


def _train(inp, model, opt, sched, epochs, scheduler_first=False):
    losses = []
    for _ in range(epochs):
        if scheduler_first:
            sched.step()
        losses += reference_train_one_epoch(model, opt, inp["batches"])
        if not scheduler_first:
            sched.step()
    return losses


def _resumed(inp, load_model=True, load_optimizer=True, load_scheduler=True, scheduler_first=False):
    """Train, checkpoint in memory, rebuild and go on; each flag False forgets one state
    (`scheduler_first`: scheduler.step() before each epoch instead of after)."""
    f = Factories.of(inp)
    model = f.make_model()
    opt = f.make_optimizer(model)
    sched = f.make_scheduler(opt)
    losses = _train(inp, model, opt, sched, inp["epochs_before"], scheduler_first)
    state = copy.deepcopy(dict(model=model.state_dict(), opt=opt.state_dict(), sched=sched.state_dict()))
    model2 = f.make_model()
    opt2 = f.make_optimizer(model2)
    sched2 = f.make_scheduler(opt2)
    if load_model:
        model2.load_state_dict(state["model"])
    if load_optimizer:
        opt2.load_state_dict(state["opt"])
    if load_scheduler:
        sched2.load_state_dict(state["sched"])
    losses += _train(inp, model2, opt2, sched2, inp["epochs_after"], scheduler_first)
    return tuple(losses), flat(model2)


def _resume_oracle(inp):
    f = Factories.of(inp)
    model = f.make_model()
    opt = f.make_optimizer(model)
    sched = f.make_scheduler(opt)
    losses = _train(inp, model, opt, sched, inp["epochs_before"] + inp["epochs_after"])
    return {"checkpoint_saved": 1.0, "rebuilt": 1.0, "losses": tuple(losses), "params": flat(model)}


def _resume_mistakes(inp):
    with warnings.catch_warnings():      # scheduler.step() before optimizer.step() warns
        warnings.simplefilter("ignore")
        return _resume_mistake_values(inp)


def _resume_mistake_values(inp):
    def fresh(**forget):
        return _resumed(inp, **forget)

    variants = {
        "scheduler.step() was called before the epoch's training: call it once per epoch, AFTER "
        "the epoch's optimizer.step() calls (the first epoch trains with base_lr)":
            _resumed(inp, scheduler_first=True),
        "the new model was never loaded: call model.load_state_dict(checkpoint['model']) on the "
        "model you rebuilt": fresh(load_model=False),
        "the optimizer's state (momentum buffers, Adam's averages, its lr) was not restored: save "
        "optimizer.state_dict() and load it into the new optimizer": fresh(load_optimizer=False),
        "the scheduler's state was not restored, so the learning rate schedule started over: save "
        "scheduler.state_dict() and load it into the new scheduler": fresh(load_scheduler=False),
    }
    return {
        "losses": [Mistake(v[0], hint) for hint, v in variants.items()],
        "params": [Mistake(v[1], hint) for hint, v in variants.items()],
        "checkpoint_saved": [Mistake(0.0, "no file at `path`: save the checkpoint there with "
                                          "torch.save(...)")],
        "rebuilt": [Mistake(0.0, "resuming means starting from new objects: after saving, build "
                                 "a new model and optimizer with make_model() and make_optimizer(), "
                                 "load the checkpoint into them and return the new model")],
    }


RESUME_CASES = (
    Case("nesterov SGD + StepLR", 30, dict(N=6, D_in=4, H=5, D_out=2, n_batches=3, before=3, after=3,
                                          optimizer="sgd", scheduler="step")),
    Case("Adam + ExponentialLR", 31, dict(N=5, D_in=3, H=6, D_out=3, n_batches=4, before=2, after=4,
                                         optimizer="adam", scheduler="exp")),
    Case("RMSprop + MultiStepLR, batch 1", 32, dict(N=1, D_in=5, H=3, D_out=1, n_batches=2, before=4,
                                                   after=1, optimizer="rmsprop",
                                                   scheduler="multistep")),
)

resume_training = Spec(
    name="ch06.resume_training",
    inputs=_resume_inputs,
    outputs=("checkpoint_saved", "rebuilt", "losses", "params"),
    oracle=_resume_oracle,
    tol=Tol(0.0, 0.0, "resuming must be bit-identical: the same float64 ops on the same device"),
    cases=RESUME_CASES,
    mistakes=_resume_mistakes,
    # Grade the checkpointing alone: the learner's copy of the locked training loop is
    # replaced by the reference one.
    isolate=("train_one_epoch",),
    error_hints=(("must return the tuple (model, losses)", "return the tuple (model, losses): the "
                  "new model and the list of every step's loss"),
                 ("must be the model (made by make_model)", "return the model you built with "
                  "make_model() (the new one, after loading the checkpoint) first")),
    sweep_salts=20,
)

SPECS = register(MySGD, MyAdam, lr_schedule, resume_training)
