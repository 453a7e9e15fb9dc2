"""Chapter 06: torch.optim. The learner's optimizer classes are driven here on a small
float64 network built from the grader's plain tensors (two param groups with their own
settings, one parameter that never gets a gradient); what comes back is the parameters
after every step, stacked, and a few facts as numbers: whether `step(closure)` returned
the closure's loss, and how many tensors of more than one element were created without
`device=` while the optimizer was built and stepped (a 0-dim step counter on the CPU is
what PyTorch itself keeps, and is allowed).

`resume_training` gets its three factories built here from plain settings; each model
made has fresh random weights, so a model that is never loaded from the checkpoint shows.
Nothing here computes an answer: the grader drives torch.optim through the same `drive`.
"""

from __future__ import annotations

import contextlib
import copy
import os
import tempfile

import torch
from torch.overrides import TorchFunctionMode

from . import calls

CALLS, harness = calls()

PARAM_NAMES = ("w1", "b1", "w2", "spare")   # `spare` never receives a gradient


# ============================================================ the optimizers' test bench
def bench_loss(params, inp):
    w1, b1, w2, _ = params
    return ((torch.relu(inp["x"] @ w1 + b1) @ w2 - inp["y"]) ** 2).mean()


_FACTORIES = {torch.zeros, torch.ones, torch.empty, torch.full, torch.rand, torch.randn,
              torch.tensor, torch.as_tensor, torch.arange, torch.linspace, torch.eye}


class _DevicelessTensors(TorchFunctionMode):
    """Counts tensors of more than one element made by a factory without `device=`."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        if func in _FACTORIES and kwargs.get("device") is None and \
                isinstance(result, torch.Tensor) and result.numel() > 1:
            self.count += 1
        return result


def drive(make_optimizer, inp, probe: _DevicelessTensors | None = None) -> tuple:
    """Train the bench with the optimizer `make_optimizer(param_groups)` makes. Returns the
    parameters after every step, flattened and stacked (steps, P), and 1.0 if every
    step(closure) returned the closure's loss (1.0 too when no closure is used).

    With inp["resume_at"] = k > 0, the optimizer is replaced after step k by a new one of
    the same kind, loaded with the old one's state_dict(): training must go on unchanged."""
    probe = probe or _DevicelessTensors()
    params = [inp[k].detach().clone().requires_grad_() for k in PARAM_NAMES]
    groups = [dict(params=params[:2], **inp["first"]), dict(params=params[2:])]
    with probe:
        opt = make_optimizer(groups)
    trajectory, returned = [], True
    for step in range(inp["steps"]):
        if step and step == inp.get("resume_at", 0):
            saved = copy.deepcopy(opt.state_dict())
            with probe:
                opt = make_optimizer([dict(params=params[:2], **inp["first"]), dict(params=params[2:])])
                opt.load_state_dict(saved)
        losses = []

        def closure():
            opt.zero_grad()
            loss = bench_loss(params, inp)
            loss.backward()
            losses.append(loss)
            return loss

        if inp["closure"]:
            with probe:
                result = opt.step(closure)
            returned = returned and type(result) is torch.Tensor and bool(losses) and \
                torch.equal(result.detach(), losses[-1].detach())
        else:
            closure()
            with probe:
                opt.step()
        trajectory.append(torch.cat([p.detach().flatten() for p in params]))
    return torch.stack(trajectory), float(returned)


def _optimizer(builtin_name: str):
    def call(cls, inp):
        builtin = getattr(torch.optim, builtin_name)
        if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
            raise TypeError(f"{getattr(cls, '__name__', cls)} must be a class derived from "
                            "torch.optim.Optimizer")
        if issubclass(cls, builtin):
            raise TypeError(f"derive from torch.optim.Optimizer and write step() yourself, "
                            f"not from torch.optim.{builtin_name}")
        probe = _DevicelessTensors()
        trajectory, returned = drive(lambda groups: cls(groups, **inp["hp"]), inp, probe)
        return trajectory, returned, float(probe.count)
    return call


harness("MySGD")(_optimizer("SGD"))
harness("MyAdam")(_optimizer("Adam"))


# ============================================================ lr_schedule
def schedule_kw(inp) -> dict:
    """The keyword arguments of the scheduler: plain values, plus `lr_lambda` made from the
    plain warm-up settings for LambdaLR."""
    kw = dict(inp["kw"])
    if inp["kind"] == "LambdaLR":
        warmup, decay = kw.pop("warmup"), kw.pop("decay")
        kw["lr_lambda"] = lambda e: min(1.0, (e + 1) / warmup) * decay ** e
    return kw


@contextlib.contextmanager
def _schedulers_counted(made: list):
    """While the block runs, every learning-rate scheduler built is recorded (also one built
    in a helper): the exercise computes the schedule without one."""
    base = torch.optim.lr_scheduler.LRScheduler
    real = base.__init__

    def counting(self, *args, **kwargs):
        made.append(type(self).__name__)
        return real(self, *args, **kwargs)

    base.__init__ = counting
    try:
        yield
    finally:
        base.__init__ = real


@harness("lr_schedule")
def lr_schedule(fn, i):
    made: list = []
    with _schedulers_counted(made):
        lrs = fn(i["kind"], i["base_lr"], i["epochs"], **schedule_kw(i))
    return lrs, float(len(made))


# ============================================================ resume_training
OPTIMIZERS = {
    "sgd": lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True),
    "adam": lambda params: torch.optim.Adam(params, lr=1e-2, weight_decay=1e-3),
    "rmsprop": lambda params: torch.optim.RMSprop(params, lr=5e-3, momentum=0.5),
}
SCHEDULERS = {
    "step": lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5),
    "exp": lambda opt: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.7),
    "multistep": lambda opt: torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[1, 3], gamma=0.2),
}


class Factories:
    """make_model / make_optimizer / make_scheduler for one case; each model made gets
    fresh random weights (so a model that is not loaded from the checkpoint shows)."""

    def __init__(self, seed, device, D_in, H, D_out, optimizer, scheduler):
        self.seed, self.device, self.sizes = seed, device, (D_in, H, D_out)
        self.optimizer, self.scheduler = OPTIMIZERS[optimizer], SCHEDULERS[scheduler]
        self.models, self.optimizers = [], []

    @classmethod
    def of(cls, inp) -> "Factories":
        return cls(*inp["factories"])

    def make_model(self):
        D_in, H, D_out = self.sizes
        gen = torch.Generator().manual_seed(1000 * self.seed + len(self.models))
        with torch.random.fork_rng(devices=[]):
            model = torch.nn.Sequential(torch.nn.Linear(D_in, H), torch.nn.Tanh(), torch.nn.Linear(H, D_out))
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * 0.5)
        model = model.to(device=self.device, dtype=torch.float64)
        self.models.append(model)
        return model

    def make_optimizer(self, model):
        opt = self.optimizer(model.parameters())
        self.optimizers.append(opt)
        return opt

    def make_scheduler(self, optimizer):
        return self.scheduler(optimizer)


def flat(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@harness("resume_training")
def resume_training(fn, inp):
    f = Factories.of(inp)
    with tempfile.TemporaryDirectory(prefix="ch06-") as tmp:
        path = os.path.join(tmp, "checkpoint.pt")
        result = fn(f.make_model, f.make_optimizer, f.make_scheduler, inp["batches"],
                    inp["epochs_before"], inp["epochs_after"], path)
        saved = float(os.path.exists(path))
    if type(result) is not tuple or len(result) != 2:
        raise TypeError("resume_training must return the tuple (model, losses)")
    model, losses = result
    if not any(model is m for m in f.models):
        raise TypeError("the first value returned must be the model (made by make_model)")
    rebuilt = float(len(f.models) >= 2 and model is f.models[-1] and len(f.optimizers) >= 2)
    return saved, rebuilt, losses, flat(model)
