"""Chapter 06: plausible wrong answers (each must lose its exercise's points, with the
message a learner would need) and correct answers written differently (each keeps them)."""

from mutation import Variant

_SGD_HEAD = """
class MySGD(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      nesterov=nesterov, weight_decay=weight_decay))
"""


def _sgd(step_body: str) -> str:
    return _SGD_HEAD + step_body


_ADAM_HEAD = """
class MyAdam(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad))
"""


def _adam(step_body: str) -> str:
    return _ADAM_HEAD + step_body


# A correct Adam step in which a few words are swapped out by the mutants below.
_ADAM_STEP = """
    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad + group["weight_decay"] * p
                st = self.state[p]
                if not st:
                    st["step"] = 0
                    st["m"] = torch.zeros_like(p)
                    st["v"] = torch.zeros_like(p)
                    st["vmax"] = torch.zeros_like(p)
                st["step"] += 1
                t = st["step"]
                st["m"] = beta1 * st["m"] + (1 - beta1) * g
                st["v"] = beta2 * st["v"] + (1 - beta2) * g * g
                v = st["v"]
                if group["amsgrad"]:
                    st["vmax"] = torch.maximum(st["vmax"], v)
                    v = st["vmax"]
                m_hat = st["m"] / (1 - beta1 ** t)
                v_hat = v / (1 - beta2 ** t)
                p -= group["lr"] * m_hat / (v_hat.sqrt() + group["eps"])
        return loss
"""

MUTANTS = {
    "MySGD": [
        Variant("lr from self.defaults", _sgd("""
    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        d = self.defaults
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad + d["weight_decay"] * p
                if d["momentum"]:
                    st = self.state[p]
                    if "buf" not in st:
                        st["buf"] = g.clone()
                    else:
                        st["buf"] = d["momentum"] * st["buf"] + (1 - d["dampening"]) * g
                    g = g + d["momentum"] * st["buf"] if d["nesterov"] else st["buf"]
                p -= d["lr"] * g
        return loss
"""), "read lr and the other settings from each `group`", kind="value"),
        Variant("momentum buffer not kept", _sgd("""
    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            m = group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad + group["weight_decay"] * p
                if m:
                    buf = g.clone()
                    g = g + m * buf if group["nesterov"] else buf
                p -= group["lr"] * g
        return loss
"""), "momentum buffer is not kept between steps", kind="value"),
        Variant("closure ignored", _sgd("""
    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            m, d = group["momentum"], group["dampening"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad + group["weight_decay"] * p
                if m:
                    st = self.state[p]
                    st["buf"] = g.clone() if "buf" not in st else m * st["buf"] + (1 - d) * g
                    g = g + m * st["buf"] if group["nesterov"] else st["buf"]
                p -= group["lr"] * g
"""), "call it (under torch.enable_grad())", kind="contract"),
        Variant("in-place update of a leaf without no_grad", _sgd("""
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p -= group["lr"] * p.grad
"""), "decorate step with @torch.no_grad()", kind="rule"),
        Variant("subclasses torch.optim.SGD", """
class MySGD(torch.optim.SGD):
    pass
""", "not from the built-in optimizer", kind="rule"),
        Variant("momentum buffer made without device=", _sgd("""
    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            m, d = group["momentum"], group["dampening"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad + group["weight_decay"] * p
                if m:
                    st = self.state[p]
                    if "buf" not in st:
                        st["buf"] = torch.zeros(p.shape, dtype=p.dtype).add_(g)
                    else:
                        st["buf"] = m * st["buf"] + (1 - d) * g
                    g = g + m * st["buf"] if group["nesterov"] else st["buf"]
                p -= group["lr"] * g
        return loss
"""), "a tensor was created without device=", kind="device"),
        Variant("momentum buffers kept outside self.state", _sgd("""
    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if not hasattr(self, "buffers"):
            self.buffers = {}
        for group in self.param_groups:
            m, d = group["momentum"], group["dampening"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad + group["weight_decay"] * p
                if m:
                    key = id(p)
                    self.buffers[key] = g.clone() if key not in self.buffers else m * self.buffers[key] + (1 - d) * g
                    g = g + m * self.buffers[key] if group["nesterov"] else self.buffers[key]
                p -= group["lr"] * g
        return loss
"""), "keep every per-parameter value", kind="contract"),
        Variant("closure's loss not returned", _sgd("""
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
                    st = self.state[p]
                    st["buf"] = g.clone() if "buf" not in st else m * st["buf"] + (1 - d) * g
                    g = g + m * st["buf"] if group["nesterov"] else st["buf"]
                p -= group["lr"] * g
"""), "must return the closure's loss", kind="contract"),
    ],
    "MyAdam": [
        Variant("no bias correction", _adam(_ADAM_STEP.replace(
            "st[\"m\"] / (1 - beta1 ** t)", "st[\"m\"]").replace("v / (1 - beta2 ** t)", "v")),
            "the bias correction is missing", kind="value"),
        Variant("eps inside the square root", _adam(_ADAM_STEP.replace(
            "(v_hat.sqrt() + group[\"eps\"])", "(v_hat + group[\"eps\"]).sqrt()")),
            "eps is inside the square root", kind="value"),
        Variant("AdamW-style decoupled weight decay", _adam(_ADAM_STEP.replace(
            "g = p.grad + group[\"weight_decay\"] * p",
            "g = p.grad\n                p.mul_(1 - group[\"lr\"] * group[\"weight_decay\"])")),
            "AdamW's decoupled weight decay", kind="value"),
        Variant("amsgrad ignored", _adam(_ADAM_STEP.replace(
            "if group[\"amsgrad\"]:", "if False:")), "amsgrad is ignored", kind="value"),
        Variant("lr from self.defaults", _adam(_ADAM_STEP.replace(
            "p -= group[\"lr\"] *", "p -= self.defaults[\"lr\"] *")),
            "read lr and the other settings from each `group`", kind="value"),
        Variant("one step counter shared by all parameters", _adam(_ADAM_STEP.replace(
            "st[\"step\"] += 1\n                t = st[\"step\"]",
            "self.t = getattr(self, \"t\", 0) + 1\n                t = self.t")),
            "one step count t is shared by all parameters", kind="value"),
        Variant("m and v made without device=", _adam(_ADAM_STEP.replace(
            "st[\"m\"] = torch.zeros_like(p)\n                    st[\"v\"] = torch.zeros_like(p)",
            "st[\"m\"] = torch.zeros(p.shape, dtype=p.dtype)\n                    st[\"v\"] = torch.zeros(p.shape, dtype=p.dtype)")),
            "a tensor was created without device=", kind="device"),
        Variant("m and v kept in attributes, not self.state", _adam(_ADAM_STEP.replace(
            "st = self.state[p]", "st = self.__dict__.setdefault(\"mine\", {}).setdefault(id(p), {})")),
            "keep every per-parameter value", kind="contract"),
    ],
    "lr_schedule": [
        Variant("one epoch early", """
def lr_schedule(kind, base_lr, epochs, **kw):
    lrs = []
    for e in range(1, epochs + 1):
        if kind == "StepLR":
            f = kw.get("gamma", 0.1) ** (e // kw["step_size"])
        elif kind == "MultiStepLR":
            f = kw.get("gamma", 0.1) ** sum(e >= m for m in kw["milestones"])
        elif kind == "ExponentialLR":
            f = kw["gamma"] ** e
        else:
            f = kw["lr_lambda"](e)
        lrs.append(base_lr * f)
    return lrs
""", "every lr comes one epoch early", kind="value"),
        Variant("StepLR decays smoothly", """
def lr_schedule(kind, base_lr, epochs, **kw):
    lrs = []
    for e in range(epochs):
        if kind == "StepLR":
            f = kw.get("gamma", 0.1) ** (e / kw["step_size"])
        elif kind == "MultiStepLR":
            f = kw.get("gamma", 0.1) ** sum(e >= m for m in kw["milestones"])
        elif kind == "ExponentialLR":
            f = kw["gamma"] ** e
        else:
            f = kw["lr_lambda"](e)
        lrs.append(base_lr * f)
    return lrs
""", "integer division e // step_size", kind="value"),
        Variant("milestone reached one epoch late", """
def lr_schedule(kind, base_lr, epochs, **kw):
    lrs = []
    for e in range(epochs):
        if kind == "StepLR":
            f = kw.get("gamma", 0.1) ** (e // kw["step_size"])
        elif kind == "MultiStepLR":
            f = kw.get("gamma", 0.1) ** sum(e > m for m in kw["milestones"])
        elif kind == "ExponentialLR":
            f = kw["gamma"] ** e
        else:
            f = kw["lr_lambda"](e)
        lrs.append(base_lr * f)
    return lrs
""", "(e >= milestone)", kind="value"),
        Variant("LambdaLR without base_lr", """
def lr_schedule(kind, base_lr, epochs, **kw):
    lrs = []
    for e in range(epochs):
        if kind == "StepLR":
            lrs.append(base_lr * kw.get("gamma", 0.1) ** (e // kw["step_size"]))
        elif kind == "MultiStepLR":
            lrs.append(base_lr * kw.get("gamma", 0.1) ** sum(e >= m for m in kw["milestones"]))
        elif kind == "ExponentialLR":
            lrs.append(base_lr * kw["gamma"] ** e)
        else:
            lrs.append(kw["lr_lambda"](e))
    return lrs
""", "multiply it by base_lr", kind="value"),
        Variant("one lr too many", """
def lr_schedule(kind, base_lr, epochs, **kw):
    lrs = []
    for e in range(epochs + 1):
        if kind == "StepLR":
            f = kw.get("gamma", 0.1) ** (e // kw["step_size"])
        elif kind == "MultiStepLR":
            f = kw.get("gamma", 0.1) ** sum(e >= m for m in kw["milestones"])
        elif kind == "ExponentialLR":
            f = kw["gamma"] ** e
        else:
            f = kw["lr_lambda"](e)
        lrs.append(base_lr * f)
    return lrs
""", "one step too few or too many", kind="value"),
        Variant("calls the built-in scheduler", """
def lr_schedule(kind, base_lr, epochs, **kw):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    sched = getattr(torch.optim.lr_scheduler, kind)(opt, **kw)
    lrs = []
    for _ in range(epochs):
        lrs.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    return lrs
""", "the built-in schedulers are the grader's oracle", kind="rule"),
        Variant("gamma required", """
def lr_schedule(kind, base_lr, epochs, **kw):
    lrs = []
    for e in range(epochs):
        if kind == "StepLR":
            f = kw["gamma"] ** (e // kw["step_size"])
        elif kind == "MultiStepLR":
            f = kw["gamma"] ** sum(e >= m for m in kw["milestones"])
        elif kind == "ExponentialLR":
            f = kw["gamma"] ** e
        else:
            f = kw["lr_lambda"](e)
        lrs.append(base_lr * f)
    return lrs
""", "gamma is optional", kind="value"),
        Variant("scheduler built in a helper", """
def _read_schedule(kind, base_lr, epochs, kw):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    sched = getattr(torch.optim.lr_scheduler, kind)(opt, **kw)
    lrs = []
    for _ in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs

def lr_schedule(kind, base_lr, epochs, **kw):
    return _read_schedule(kind, base_lr, epochs, kw)
""", "a scheduler was built (maybe in a helper)", kind="rule"),
    ],
    "resume_training": [
        Variant("optimizer state not saved", """
def resume_training(make_model, make_optimizer, make_scheduler, batches, epochs_before, epochs_after, path):
    model = make_model(); optimizer = make_optimizer(model); scheduler = make_scheduler(optimizer)
    losses = []
    for _ in range(epochs_before):
        losses += train_one_epoch(model, optimizer, batches)
        scheduler.step()
    torch.save({"model": model.state_dict(), "scheduler": scheduler.state_dict()}, path)
    model = make_model(); optimizer = make_optimizer(model); scheduler = make_scheduler(optimizer)
    ckpt = torch.load(path)
    model.load_state_dict(ckpt["model"])
    scheduler.load_state_dict(ckpt["scheduler"])
    for _ in range(epochs_after):
        losses += train_one_epoch(model, optimizer, batches)
        scheduler.step()
    return model, losses
""", "the optimizer's state", kind="value"),
        Variant("scheduler state not saved", """
def resume_training(make_model, make_optimizer, make_scheduler, batches, epochs_before, epochs_after, path):
    model = make_model(); optimizer = make_optimizer(model); scheduler = make_scheduler(optimizer)
    losses = []
    for _ in range(epochs_before):
        losses += train_one_epoch(model, optimizer, batches)
        scheduler.step()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
    model = make_model(); optimizer = make_optimizer(model); scheduler = make_scheduler(optimizer)
    ckpt = torch.load(path)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    for _ in range(epochs_after):
        losses += train_one_epoch(model, optimizer, batches)
        scheduler.step()
    return model, losses
""", "the scheduler's state was not restored", kind="value"),
        Variant("model weights not loaded", """
def resume_training(make_model, make_optimizer, make_scheduler, batches, epochs_before, epochs_after, path):
    model = make_model(); optimizer = make_optimizer(model); scheduler = make_scheduler(optimizer)
    losses = []
    for _ in range(epochs_before):
        losses += train_one_epoch(model, optimizer, batches)
        scheduler.step()
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, path)
    model = make_model(); optimizer = make_optimizer(model); scheduler = make_scheduler(optimizer)
    ckpt = torch.load(path)
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    for _ in range(epochs_after):
        losses += train_one_epoch(model, optimizer, batches)
        scheduler.step()
    return model, losses
""", "the new model was never loaded", kind="value"),
        Variant("never rebuilds: keeps training the same objects", """
def resume_training(make_model, make_optimizer, make_scheduler, batches, epochs_before, epochs_after, path):
    model = make_model(); optimizer = make_optimizer(model); scheduler = make_scheduler(optimizer)
    losses = []
    for _ in range(epochs_before + epochs_after):
        losses += train_one_epoch(model, optimizer, batches)
        scheduler.step()
    torch.save({"model": model.state_dict()}, path)
    return model, losses
""", "resuming means starting from new objects", kind="contract"),
        Variant("no checkpoint file", """
def resume_training(make_model, make_optimizer, make_scheduler, batches, epochs_before, epochs_after, path):
    import copy
    model = make_model(); optimizer = make_optimizer(model); scheduler = make_scheduler(optimizer)
    losses = []
    for _ in range(epochs_before):
        losses += train_one_epoch(model, optimizer, batches)
        scheduler.step()
    ckpt = copy.deepcopy({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                          "scheduler": scheduler.state_dict()})
    model = make_model(); optimizer = make_optimizer(model); scheduler = make_scheduler(optimizer)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    for _ in range(epochs_after):
        losses += train_one_epoch(model, optimizer, batches)
        scheduler.step()
    return model, losses
""", "no file at `path`", kind="contract"),
        Variant("scheduler stepped before the epoch", """
def resume_training(make_model, make_optimizer, make_scheduler, batches, epochs_before, epochs_after, path):
    model = make_model(); optimizer = make_optimizer(model); scheduler = make_scheduler(optimizer)
    losses = []
    for _ in range(epochs_before):
        scheduler.step()
        losses += train_one_epoch(model, optimizer, batches)
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict()}, path)
    model = make_model(); optimizer = make_optimizer(model); scheduler = make_scheduler(optimizer)
    ckpt = torch.load(path)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    for _ in range(epochs_after):
        scheduler.step()
        losses += train_one_epoch(model, optimizer, batches)
    return model, losses
""", "scheduler.step() was called before the epoch's training", kind="value"),
    ],
}

ALTERNATIVES = {
    "MySGD": [
        Variant("new tensors, copy_ and a state dict per parameter", _sgd("""
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        with torch.no_grad():
            for group in self.param_groups:
                lr, m = group["lr"], group["momentum"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    d_p = p.grad + group["weight_decay"] * p
                    if m != 0:
                        state = self.state[p]
                        if state.get("momentum_buffer") is None:
                            buf = torch.clone(d_p).detach()
                        else:
                            buf = m * state["momentum_buffer"] + (1 - group["dampening"]) * d_p
                        state["momentum_buffer"] = buf
                        d_p = d_p + m * buf if group["nesterov"] else buf
                    p.copy_(p - lr * d_p)
        return loss
""")),
        Variant("p.data updates, defaults via locals()", """
class MySGD(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        defaults = {k: v for k, v in locals().items() if k not in ("self", "params", "__class__")}
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in (q for q in group["params"] if q.grad is not None):
                g = p.grad.data.add(p.data, alpha=group["weight_decay"])
                if group["momentum"]:
                    st = self.state[p]
                    if "buf" in st:
                        st["buf"].mul_(group["momentum"]).add_(g, alpha=1 - group["dampening"])
                    else:
                        st["buf"] = g.clone()
                    g = g.add(st["buf"], alpha=group["momentum"]) if group["nesterov"] else st["buf"]
                p.data.add_(g, alpha=-group["lr"])
        return loss
"""),
    ],
    "MyAdam": [
        Variant("PyTorch's folded bias correction, step as a tensor", _adam("""
    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad if group["weight_decay"] == 0 else p.grad.add(p, alpha=group["weight_decay"])
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["max_exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                step = state["step"].item()
                state["exp_avg"].lerp_(grad, 1 - beta1)
                state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                bc1, bc2 = 1 - beta1 ** step, 1 - beta2 ** step
                v = state["exp_avg_sq"]
                if group["amsgrad"]:
                    torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
                    v = state["max_exp_avg_sq"]
                denom = (v.sqrt() / math.sqrt(bc2)).add_(group["eps"])
                p.addcdiv_(state["exp_avg"], denom, value=-group["lr"] / bc1)
        return loss
""")),
        Variant("textbook formulas with new tensors", _adam(_ADAM_STEP)),
    ],
    "lr_schedule": [
        Variant("repeated multiplication, like PyTorch", """
def lr_schedule(kind, base_lr, epochs, **kw):
    gamma = kw.get("gamma", 0.1)
    lrs, lr = [], base_lr
    for e in range(epochs):
        if kind == "LambdaLR":
            lr = base_lr * kw["lr_lambda"](e)
        elif e > 0 and (
                (kind == "StepLR" and e % kw["step_size"] == 0)
                or (kind == "MultiStepLR" and e in kw["milestones"])
                or kind == "ExponentialLR"):
            lr = lr * gamma
        lrs.append(lr)
    return lrs
"""),
        Variant("a dict of closed forms, numpy searchsorted", """
def lr_schedule(kind, base_lr, epochs, **kw):
    import numpy as np
    g = kw.get("gamma", 0.1)
    factor = {
        "StepLR": lambda e: g ** (e // kw["step_size"]),
        "MultiStepLR": lambda e: g ** int(np.searchsorted(sorted(kw["milestones"]), e, side="right")),
        "ExponentialLR": lambda e: g ** e,
        "LambdaLR": lambda e: kw["lr_lambda"](e),
    }[kind]
    return [float(np.float64(base_lr) * factor(e)) for e in range(epochs)]
"""),
    ],
    "resume_training": [
        Variant("optimizer state loaded before the scheduler is made, one helper", """
def resume_training(make_model, make_optimizer, make_scheduler, batches, epochs_before, epochs_after, path):
    def run(model, optimizer, scheduler, epochs):
        out = []
        for _ in range(epochs):
            out.extend(train_one_epoch(model, optimizer, batches))
            scheduler.step()
        return out

    model = make_model()
    optimizer = make_optimizer(model)
    scheduler = make_scheduler(optimizer)
    losses = run(model, optimizer, scheduler, epochs_before)
    torch.save(dict(model=model.state_dict(), opt=optimizer.state_dict(), sched=scheduler.state_dict(),
                    epoch=epochs_before), path)
    del model, optimizer, scheduler
    checkpoint = torch.load(path, weights_only=True)
    new_model = make_model()
    new_model.load_state_dict(checkpoint["model"])
    new_optimizer = make_optimizer(new_model)
    new_optimizer.load_state_dict(checkpoint["opt"])
    new_scheduler = make_scheduler(new_optimizer)
    new_scheduler.load_state_dict(checkpoint["sched"])
    return new_model, losses + run(new_model, new_optimizer, new_scheduler, epochs_after)
"""),
    ],
}
