# %% [markdown]
# # Chapter 06 · torch.optim: optimizers, learning-rate schedules, checkpoints
#
# In chapter 01 the update was one line, `w1 = w1 - lr * grad_w1`. That line is an
# **optimizer**: plain gradient descent. Real training uses better ones (momentum, Adam),
# uses different learning rates for different layers, lowers the learning rate as training
# goes on, and must survive being stopped and restarted. `torch.optim` does all of this,
# and this chapter takes it apart so that none of it is magic.
#
# When you have finished this chapter you will have written:
#
# 1. `MySGD`: SGD with momentum, dampening, Nesterov and weight decay, as a real `torch.optim.Optimizer`,
# 2. `MyAdam`: Adam with weight decay and amsgrad, the same way,
# 3. `lr_schedule(kind, base_lr, epochs, **kw)`: the learning rate of every epoch under PyTorch's schedulers,
# 4. `resume_training(...)`: save a checkpoint, rebuild everything, load it, and continue bit for bit.
#
# The checks run your optimizers for up to 120 steps next to PyTorch's own on small random
# networks (in float64, with two param groups) and compare every parameter after every step.

# %% nbgrader={"grade": false, "grade_id": "locked_01", "locked": true, "schema_version": 3, "solution": false}
import copy
import math
import os
import tempfile
import warnings

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from autograder import check, check_chapter, pick
from autograder import loss_curve, progress

torch.set_printoptions(precision=4)

# %% [markdown]
# ## 1. What an optimizer does: `zero_grad`, `backward`, `step`
#
# Every training step in PyTorch has the same three beats:
#
# ```python
# optimizer.zero_grad()   # forget the gradients of the last step
# loss.backward()         # autograd writes d loss / d p into p.grad, for every parameter p
# optimizer.step()        # the optimizer reads p.grad and changes p
# ```
#
# Why `zero_grad`? Because `backward` **adds** into `p.grad` instead of overwriting it.
# That is a feature (it lets you accumulate the gradients of several small batches before
# one step), but if you forget to clear them, every step uses the sum of all past
# gradients. Watch:

# %%
w = torch.tensor([1.0, -2.0], requires_grad=True)
for attempt in range(3):
    loss = (w ** 2).sum()          # d loss / d w = 2 w = [2, -4]
    loss.backward()
    print(f"after backward #{attempt + 1}: w.grad = {w.grad}")
w.grad = None                      # what optimizer.zero_grad() does (set_to_none=True)
(w ** 2).sum().backward()
print(f"after clearing, one backward:  w.grad = {w.grad}")

# %% [markdown]
# The optimizer itself never sees the loss or the model. It holds a list of tensors (the
# **parameters**), and `step()` updates each one from its `.grad`. Let us train chapter 01's
# two-layer network (same names `N, D_in, H, D_out, x, y`) with `torch.optim.SGD`, to have
# the loop in front of us:

# %%
N, D_in, H, D_out = 64, 1000, 100, 10
torch.manual_seed(0)
x = torch.randn(N, D_in)
y = torch.randn(N, D_out)


def make_net(seed=0):
    """The two-layer ReLU net of chapter 01, as an nn.Sequential with fixed initial weights."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(D_in, H), torch.nn.ReLU(), torch.nn.Linear(H, D_out))


def fit(make_optimizer, steps, seed=0):
    """Full-batch training of a fresh net; returns the loss of every step."""
    model = make_net(seed)
    optimizer = make_optimizer(model.parameters())
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


steps = pick(full=300, quick=30)
sgd_losses = fit(lambda params: torch.optim.SGD(params, lr=0.1), steps)
print(f"SGD: loss {sgd_losses[0]:.4f} -> {sgd_losses[-1]:.4f} in {steps} steps")


# %% [markdown]
# ## 2. SGD with momentum and Nesterov
#
# Plain gradient descent has a well-known weakness: in a long narrow valley the gradient
# points mostly *across* the valley, so the steps zig-zag from wall to wall and progress
# *along* the valley is slow. **Momentum** keeps a running velocity `buf` and steps along
# it; the zig-zags cancel out in the average while the steady downhill direction adds up.
# PyTorch's SGD, for each parameter `p` with gradient `g`, is:
#
# $$
# \begin{aligned}
# g &\leftarrow g + \lambda\, p & \text{(weight decay } \lambda\text{: pulls weights towards 0)}\\
# \text{buf} &\leftarrow \begin{cases} g & \text{first step}\\ \mu\, \text{buf} + (1 - \tau)\, g & \text{later steps}\end{cases} & \text{(momentum } \mu\text{, dampening } \tau)\\
# g &\leftarrow \begin{cases} g + \mu\, \text{buf} & \text{Nesterov}\\ \text{buf} & \text{otherwise}\end{cases}\\
# p &\leftarrow p - \text{lr}\; g
# \end{aligned}
# $$
#
# Two details matter if you want PyTorch's numbers exactly: the buffer starts as the
# gradient itself (no dampening on the first step), and weight decay is added to the
# gradient *before* the momentum. **Nesterov** momentum "looks ahead": it steps with the
# current gradient plus the velocity it is about to have, which damps overshooting.
#
# The picture below runs the three on the valley $f(a, b) = \frac12 (a^2 + 20\, b^2)$,
# starting at the same point with the same learning rate.

# %%
def valley_path(make_optimizer, steps=40):
    point = torch.tensor([-4.5, 1.0], requires_grad=True)
    optimizer = make_optimizer([point])
    path = [point.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        (0.5 * (point[0] ** 2 + 20 * point[1] ** 2)).backward()
        optimizer.step()
        path.append(point.detach().clone())
    return torch.stack(path)


A, B = torch.meshgrid(torch.linspace(-5, 5, 200), torch.linspace(-1.5, 1.5, 200), indexing="xy")
fig, ax = plt.subplots(figsize=(8, 3.5))
ax.contour(A, B, 0.5 * (A ** 2 + 20 * B ** 2), levels=20, cmap="Greys", linewidths=0.6)
for label, make in [("SGD lr=0.09", lambda p: torch.optim.SGD(p, lr=0.09)),
                    ("momentum 0.8", lambda p: torch.optim.SGD(p, lr=0.09, momentum=0.8)),
                    ("Nesterov 0.8", lambda p: torch.optim.SGD(p, lr=0.09, momentum=0.8, nesterov=True))]:
    path = valley_path(make)
    ax.plot(path[:, 0], path[:, 1], "o-", ms=2.5, lw=1, label=f"{label}: f = {0.5 * (path[-1] ** 2 * torch.tensor([1., 20.])).sum():.1e}")
ax.plot(0, 0, "k*", ms=12)
ax.set_xlabel("a"); ax.set_ylabel("b"); ax.set_title("40 steps in a narrow valley (minimum at *)")
ax.legend(loc="lower right", fontsize=8)
plt.show()


# %% [markdown]
# ## 3. Writing an optimizer: the `torch.optim.Optimizer` contract
#
# A subclass of `torch.optim.Optimizer` gets a lot for free; it has to write only `step()`.
#
# * `super().__init__(params, defaults)` accepts either an iterable of tensors or a list of
#   dicts (**param groups**, section 5) and stores them as `self.param_groups`: a list of
#   dicts, each with a `"params"` list and every setting from `defaults` it did not set
#   itself. **Always read `lr`, `momentum`... from `group`, never from `self.defaults`:**
#   that is what makes per-layer learning rates work.
# * `self.state` is a dict keyed by parameter, for whatever you must remember between steps
#   (the momentum buffer). It is what `state_dict()` saves and `load_state_dict()` restores.
# * `zero_grad()`, `state_dict()`, `load_state_dict()` and `add_param_group()` are inherited.
# * `step(closure=None)` updates the parameters. The update must not be recorded by autograd
#   (a parameter is a leaf that requires grad; changing it in place under autograd is an
#   error), so decorate `step` with `@torch.no_grad()`. Some optimizers (L-BFGS) must
#   re-evaluate the loss several times per step, so `step` may receive a **closure** that
#   clears the gradients, computes the loss, calls `backward` and returns the loss; call it
#   under `torch.enable_grad()` and return what it returned.
# * A parameter whose `.grad` is `None` (it took no part in this loss, e.g. a frozen layer)
#   is skipped: not updated, not decayed.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_02", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 1 · `MySGD` (3 points)
#
# Write `MySGD(params, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0)`,
# a subclass of `torch.optim.Optimizer` (not of `torch.optim.SGD`) whose `step(closure=None)`
# applies the update of section 2 and gives exactly the same parameters as `torch.optim.SGD`:
#
# * settings are read per param group;
# * the momentum buffer lives in `self.state[p]` (the checks rebuild your optimizer halfway
#   through training from its `state_dict()`, which saves `self.state` and nothing else, and
#   expect training to go on unchanged); create it on the parameter's device
#   (`g.clone()`, `torch.zeros_like(p)`: the checks count tensors made without `device=`);
# * parameters with no gradient are skipped;
# * if `closure` is given, call it under `torch.enable_grad()` before updating, and return its loss.
#
# The checks train a small float64 network for 120 steps next to `torch.optim.SGD`
# (momentum 0 and 0.9, dampening, Nesterov, weight decay, two param groups with different
# learning rates) and compare every parameter after every step.

# %% nbgrader={"grade": false, "grade_id": "MySGD", "locked": false, "schema_version": 3, "solution": true}
class MySGD(torch.optim.Optimizer):
    """SGD with momentum, dampening, Nesterov momentum and weight decay, like torch.optim.SGD."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        ### BEGIN SOLUTION
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening = 0")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                        weight_decay=weight_decay)
        super().__init__(params, defaults)
        ### END SOLUTION

    @torch.no_grad()
    def step(self, closure=None):
        ### BEGIN SOLUTION
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if group["weight_decay"] != 0:
                    g = g.add(p, alpha=group["weight_decay"])
                if momentum != 0:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        buf = state["momentum_buffer"] = g.clone()
                    else:
                        buf = state["momentum_buffer"]
                        buf.mul_(momentum).add_(g, alpha=1 - dampening)
                    g = g.add(buf, alpha=momentum) if group["nesterov"] else buf
                p.add_(g, alpha=-lr)
        return loss
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_MySGD", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# (a helper the visible checks of MySGD and MyAdam share: defined first, so it exists
# whatever happens below)
def _two_groups(opt_class, **kw):
    torch.manual_seed(1)
    a, b = torch.randn(3, requires_grad=True), torch.randn(2, requires_grad=True)
    opt = opt_class([{"params": [a], "lr": 0.05}, {"params": [b]}], lr=0.1, **kw)
    for _ in range(20):
        opt.zero_grad()
        ((a - 1) ** 2).sum().backward(retain_graph=False)
        ((b - a[:2].detach()) ** 4).sum().backward()
        opt.step()
    return torch.cat([a.detach(), b.detach()])
# By hand: loss = sum(p^2) / 2, so g = p. Momentum 0.9, lr 0.1, from p0 = [1, 2]:
# step 1: buf = g = p0, p1 = 0.9 p0;  step 2: g = 0.9 p0, buf = 0.9 p0 + 0.9 p0 = 1.8 p0, p2 = 0.72 p0
p_tiny = torch.tensor([1.0, 2.0], requires_grad=True)
opt_tiny = MySGD([p_tiny], lr=0.1, momentum=0.9)
assert isinstance(opt_tiny, torch.optim.Optimizer), "MySGD must subclass torch.optim.Optimizer"
for _ in range(2):
    opt_tiny.zero_grad()
    (p_tiny ** 2 / 2).sum().backward()
    opt_tiny.step()
assert torch.allclose(p_tiny.detach(), torch.tensor([0.72, 1.44])), \
    f"after two momentum steps p should be [0.72, 1.44], got {p_tiny.detach()} (is buf = g on the first step?)"
# Next to torch.optim.SGD, with two param groups, for 20 steps.
settings = dict(momentum=0.9, nesterov=True, weight_decay=0.01)
mine, theirs = _two_groups(MySGD, **settings), _two_groups(torch.optim.SGD, **settings)
assert torch.allclose(mine, theirs, atol=1e-6), f"MySGD {mine} differs from torch.optim.SGD {theirs} (settings {settings})"
check("ch06.MySGD", MySGD)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch06.MySGD", MySGD)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Adaptive learning rates: RMSprop and Adam
#
# SGD uses one learning rate for every weight. But gradients of different weights can differ
# by orders of magnitude: a step that suits one weight is far too big or far too small for
# another. **RMSprop** keeps a running average of each weight's *squared* gradient, $v$, and
# divides the step by $\sqrt{v}$: every weight then moves by roughly `lr`, whatever the
# scale of its gradient. **Adam** adds momentum on top: a running average $m$ of the
# gradient itself. For each parameter, at its step $t = 1, 2, \dots$:
#
# $$
# \begin{aligned}
# g &\leftarrow g + \lambda\, p \qquad m \leftarrow \beta_1 m + (1-\beta_1)\, g \qquad v \leftarrow \beta_2 v + (1-\beta_2)\, g^2\\
# \hat m &= \frac{m}{1-\beta_1^t} \qquad \hat v = \frac{v}{1-\beta_2^t} \qquad
# p \leftarrow p - \text{lr}\,\frac{\hat m}{\sqrt{\hat v} + \varepsilon}
# \end{aligned}
# $$
#
# Why the **bias correction** $1-\beta^t$? $m$ and $v$ start at zero, so in the first steps
# they are averages of mostly zeros: far too small. Dividing by $1 - \beta^t$ (which is
# $1-\beta$ at $t = 1$ and tends to 1) exactly undoes that. With **amsgrad**, the
# denominator uses $v_{\max}$, the largest $v$ seen so far, instead of the current $v$:
# $p \leftarrow p - \text{lr}\,\hat m / (\sqrt{v_{\max}/(1-\beta_2^t)} + \varepsilon)$. So the
# denominator cannot fall back when the gradients get smaller after a burst of large ones,
# which is what can make plain Adam take sudden large steps late in training. It does *not*
# mean that every step is smaller than the last: the step still follows $\hat m$, which can
# grow, and the bias correction $1-\beta_2^t$ still changes with $t$. (AdamW, by contrast,
# applies weight decay to `p` directly instead of adding it to the gradient: a different
# optimizer, below.)
#
# Here are all of them on the two-layer network of section 1 (same start, same data):

# %%
candidates = {
    "SGD lr=0.1": lambda p: torch.optim.SGD(p, lr=0.1),
    "SGD momentum 0.9": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
    "Nesterov 0.9": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    "RMSprop lr=1e-3": lambda p: torch.optim.RMSprop(p, lr=1e-3),
    "Adam lr=1e-3": lambda p: torch.optim.Adam(p, lr=1e-3),
}
curves = {name: fit(make, steps) for name, make in progress(candidates.items(), desc="optimizers")}
for name, losses in curves.items():
    print(f"{name:>18}: final loss {losses[-1]:.4f}")
loss_curve(curves, title="Two-layer net, full batch: one start, five optimizers")
plt.show()

# %% [markdown]
# **AdamW** decouples the weight decay from the gradient: Adam with `weight_decay` adds
# $\lambda p$ to the gradient, which then goes through the division by $\sqrt{\hat v}$, so
# weights with large gradients are barely decayed; AdamW instead shrinks every weight by
# the same factor, $p \leftarrow p - \text{lr}\,\lambda\, p$, before the Adam step. With
# the same `weight_decay` the two give different weights; AdamW (with a decay around
# 0.01 to 0.1) is the usual choice for transformers.
#
# **L-BFGS** is a quasi-Newton method: it estimates the curvature from the last few
# gradients and steps towards the minimum of that quadratic model, with a line search. It
# needs several loss evaluations per step, which is what `step(closure)` is for, and
# deterministic full-batch losses: it shines on small smooth problems (fitting a few
# parameters, style transfer), not on noisy mini-batches.

# %%
decays = {
    "Adam, weight_decay=0.1": lambda p: torch.optim.Adam(p, lr=1e-3, weight_decay=0.1),
    "AdamW, weight_decay=0.1": lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=0.1),
}
adamw_vs_adam = {name: fit(make, steps) for name, make in progress(decays.items(), desc="Adam vs AdamW")}
for name, losses in adamw_vs_adam.items():
    print(f"{name:>24}: final loss {losses[-1]:.4f}")

lbfgs_model = make_net()
lbfgs = torch.optim.LBFGS(lbfgs_model.parameters(), lr=1.0, max_iter=20, history_size=10,
                          line_search_fn="strong_wolfe")
evaluations = []


def closure():
    lbfgs.zero_grad()
    loss = F.mse_loss(lbfgs_model(x), y)
    loss.backward()
    evaluations.append(loss.item())
    return loss


lbfgs_losses = [lbfgs.step(closure).item() for _ in range(pick(full=15, quick=3))]
print(f"L-BFGS: loss {lbfgs_losses[0]:.4f} -> {closure().item():.4f} in {len(lbfgs_losses)} steps, "
      f"{len(evaluations)} loss evaluations (Adam above used {steps} of each)")


# %% [markdown]
# **Which optimizer when?** Rules of thumb, not laws (the learning rate matters more than
# the choice among the adaptive ones):
#
# | optimizer | when | typical settings |
# |---|---|---|
# | `SGD` with momentum (Nesterov) | convolutional nets on images, when you can tune lr and a schedule; often generalises best | lr 0.01 to 0.1, momentum 0.9, weight_decay 5e-4, a schedule |
# | `Adam` | the default that works without much tuning: new models, small data, RNNs | lr 1e-3 (3e-4), betas (0.9, 0.999) |
# | `AdamW` | Adam with weight decay that does what it says: transformers, fine-tuning | lr 1e-4 to 1e-3, weight_decay 0.01 to 0.1 |
# | `RMSprop` | Adam without momentum; older recurrent and reinforcement-learning code | lr 1e-3, alpha 0.99 |
# | `Adagrad` | sparse features (each weight's lr shrinks with its own gradient history) | lr 0.01 |
# | `Adadelta` | Adagrad whose lr does not decay to zero; needs little tuning | lr 1.0 |
# | `Adamax` | Adam with an infinity norm instead of $\sqrt{v}$; sometimes steadier with embeddings | lr 2e-3 |
# | `NAdam` / `RAdam` | Adam with Nesterov momentum / with a rectified warm-up of the variance | as Adam |
# | `SparseAdam` | embeddings with sparse gradients (`nn.Embedding(sparse=True)`) | as Adam |
# | `LBFGS` | small, smooth, full-batch problems; needs a closure | lr 1, line_search_fn="strong_wolfe" |
# | `Rprop` | full-batch only (it uses only the sign of the gradient) | lr 0.01 |

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_03", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 2 · `MyAdam` (3 points)
#
# Write `MyAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False)`,
# a subclass of `torch.optim.Optimizer` (not of `torch.optim.Adam`) with the update of
# section 4, giving the same parameters as `torch.optim.Adam`. As for `MySGD`: settings per
# group; per-parameter state in `self.state[p]` (its own step count `t`, `m`, `v`, and the
# running maximum of `v` for amsgrad), created on the parameter's device (a plain number,
# or a 0-dim tensor, is fine for `t`); skip parameters without a gradient; support `closure`
# and return its loss.

# %% nbgrader={"grade": false, "grade_id": "MyAdam", "locked": false, "schema_version": 3, "solution": true}
class MyAdam(torch.optim.Optimizer):
    """Adam (with L2 weight decay added to the gradient, and optional amsgrad), like torch.optim.Adam."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        ### BEGIN SOLUTION
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        super().__init__(params, defaults)
        ### END SOLUTION

    @torch.no_grad()
    def step(self, closure=None):
        ### BEGIN SOLUTION
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if group["weight_decay"] != 0:
                    g = g.add(p, alpha=group["weight_decay"])
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"]
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_(g, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                if group["amsgrad"]:
                    torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
                    v = state["max_exp_avg_sq"]
                m_hat = m / (1 - beta1 ** t)
                v_hat = v / (1 - beta2 ** t)
                p.addcdiv_(m_hat, v_hat.sqrt().add_(group["eps"]), value=-group["lr"])
        return loss
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_MyAdam", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# Thanks to the bias correction, Adam's first step moves every weight by almost exactly lr,
# whatever the size of its gradient: here lr = 0.1, gradients 1 and -2000.
p_tiny = torch.tensor([1.0, -1000.0], requires_grad=True)
opt_tiny = MyAdam([p_tiny], lr=0.1)
assert isinstance(opt_tiny, torch.optim.Optimizer), "MyAdam must subclass torch.optim.Optimizer"
opt_tiny.zero_grad()
(p_tiny ** 2 / 2 * torch.tensor([1.0, 2.0])).sum().backward()
opt_tiny.step()
assert torch.allclose(p_tiny.detach(), torch.tensor([0.9, -999.9])), \
    f"after one step p should be [0.9, -999.9], got {p_tiny.detach()} (bias correction?)"
for settings in (dict(), dict(betas=(0.8, 0.99), weight_decay=0.01, amsgrad=True)):
    mine, theirs = _two_groups(MyAdam, **settings), _two_groups(torch.optim.Adam, **settings)
    assert torch.allclose(mine, theirs, atol=1e-6), \
        f"MyAdam {mine} differs from torch.optim.Adam {theirs} (settings {settings})"
check("ch06.MyAdam", MyAdam)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch06.MyAdam", MyAdam)
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Param groups: a learning rate per layer, and `add_param_group`
#
# An optimizer can hold several **param groups**, each with its own settings. Pass a list
# of dicts instead of a list of tensors; what a group does not set comes from the
# keyword arguments. Typical uses: a smaller learning rate for a pretrained body than for a
# new head, or no weight decay on biases.

# %%
model = make_net()
optimizer = torch.optim.SGD([
    {"params": model[0].parameters(), "lr": 1e-3},                  # first layer: slow
    {"params": model[2].weight},                                     # uses lr=0.1, weight_decay=1e-4
    {"params": model[2].bias, "weight_decay": 0.0},                  # no decay on the bias
], lr=0.1, momentum=0.9, weight_decay=1e-4)
for i, group in enumerate(optimizer.param_groups):
    shapes = [tuple(p.shape) for p in group["params"]]
    print(f"group {i}: lr={group['lr']:<6g} weight_decay={group['weight_decay']:<7g} params {shapes}")

# %% [markdown]
# `add_param_group` adds a group to a running optimizer: the classic case is fine-tuning,
# where you first train only a new head, then **unfreeze** the body and hand its parameters
# to the optimizer with a smaller learning rate. (A frozen parameter has `requires_grad=False`,
# so its `.grad` stays `None` and every optimizer skips it.)

# %%
model = make_net()
for p in model[0].parameters():
    p.requires_grad_(False)                                          # frozen body
optimizer = torch.optim.Adam(model[2].parameters(), lr=1e-3)         # trains the head only
body_before = model[0].weight.detach().clone()
history = []
for step in range(2 * steps):
    if step == steps:                                                # halfway: unfreeze the body
        for p in model[0].parameters():
            p.requires_grad_(True)
        optimizer.add_param_group({"params": model[0].parameters(), "lr": 1e-4})
        print(f"step {step}: body moved by {float((model[0].weight.detach() - body_before).abs().max()):.1e} "
              f"while frozen; groups now: {[g['lr'] for g in optimizer.param_groups]}")
    optimizer.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    history.append(loss.item())
print(f"after unfreezing the body moved by {float((model[0].weight.detach() - body_before).abs().max()):.1e}")


# %% [markdown]
# ## 6. Learning-rate schedules
#
# A learning rate that is right at the start (big steps, far from any minimum) is too big
# at the end (it keeps jumping around the minimum). A **scheduler** changes the `lr` of
# every param group as training goes on. Four classic ones:
#
# * `StepLR(opt, step_size, gamma)`: multiply by `gamma` every `step_size` epochs;
# * `MultiStepLR(opt, milestones, gamma)`: multiply by `gamma` at each epoch listed in `milestones`;
# * `ExponentialLR(opt, gamma)`: multiply by `gamma` every epoch;
# * `LambdaLR(opt, lr_lambda)`: `lr = base_lr * lr_lambda(epoch)`, any shape you like (warm-up!).
#
# A scheduler counts **its own `step()` calls**, not epochs: it is up to you to call
# `scheduler.step()` once per epoch, **after** the epoch's `optimizer.step()` calls.
# `scheduler.get_last_lr()` is the learning rate the optimizer uses now.

# %%
def lrs_of(make_scheduler, epochs=30, base_lr=0.1):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    sched = make_scheduler(opt)
    out = []
    for _ in range(epochs):
        out.append(sched.get_last_lr()[0])   # the lr this epoch trains with
        opt.step()                           # ... the epoch's training steps ...
        sched.step()                         # then, once per epoch
    return out


schedules = {
    "StepLR(step_size=8, gamma=0.5)": lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=8, gamma=0.5),
    "MultiStepLR([5, 12, 20], gamma=0.3)": lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [5, 12, 20], 0.3),
    "ExponentialLR(gamma=0.9)": lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9),
    "LambdaLR(5-epoch warm-up, then 0.93^e)": lambda o: torch.optim.lr_scheduler.LambdaLR(
        o, lambda e: min(1.0, (e + 1) / 5) * 0.93 ** e),
}
fig, ax = plt.subplots(figsize=(7, 3.5))
for label, make in schedules.items():
    ax.step(range(30), lrs_of(make), where="post", label=label)
ax.set_xlabel("epoch"); ax.set_ylabel("learning rate"); ax.set_title("Four schedules, base_lr = 0.1")
ax.legend(fontsize=8)
plt.show()


# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_04", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 3 · `lr_schedule(kind, base_lr, epochs, **kw)` (2 points)
#
# Return the list of the `epochs` learning rates used in epochs `0, 1, ..., epochs - 1` by
# the scheduler `kind` (`"StepLR"`, `"MultiStepLR"`, `"ExponentialLR"` or `"LambdaLR"`)
# built with keyword arguments `kw` (as in PyTorch: `step_size`, `milestones`, `gamma`
# (default 0.1 for StepLR and MultiStepLR), `lr_lambda`), stepped once per epoch. That is
# the list `lrs_of` above prints, but computed with a formula: don't create a scheduler.
# Plain Python floats.

# %% nbgrader={"grade": false, "grade_id": "lr_schedule", "locked": false, "schema_version": 3, "solution": true}
def lr_schedule(kind, base_lr, epochs, **kw):
    """The learning rate of each epoch under one of PyTorch's schedulers, as a list of floats."""
    ### BEGIN SOLUTION
    lrs = []
    for e in range(epochs):
        if kind == "StepLR":
            factor = kw.get("gamma", 0.1) ** (e // kw["step_size"])
        elif kind == "MultiStepLR":
            factor = kw.get("gamma", 0.1) ** sum(e >= m for m in kw["milestones"])
        elif kind == "ExponentialLR":
            factor = kw["gamma"] ** e
        elif kind == "LambdaLR":
            factor = kw["lr_lambda"](e)
        else:
            raise ValueError(f"unknown schedule {kind!r}")
        lrs.append(base_lr * factor)
    return lrs
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_lr_schedule", "locked": true, "points": 2, "schema_version": 3, "solution": false}
got = lr_schedule("StepLR", 0.1, 5, step_size=2, gamma=0.5)
assert len(got) == 5, f"5 epochs need 5 learning rates, got {len(got)}"
assert all(type(v) is float for v in got), "return plain Python floats"
assert torch.allclose(torch.tensor(got), torch.tensor([0.1, 0.1, 0.05, 0.05, 0.025])), \
    f"StepLR(step_size=2, gamma=0.5) from 0.1 should be [0.1, 0.1, 0.05, 0.05, 0.025], got {got}"
got = lr_schedule("MultiStepLR", 1.0, 4, milestones=[1, 3], gamma=0.1)
assert torch.allclose(torch.tensor(got), torch.tensor([1.0, 0.1, 0.1, 0.01])), \
    f"MultiStepLR([1, 3]) from 1.0 should be [1, 0.1, 0.1, 0.01], got {got}"
check("ch06.lr_schedule", lr_schedule)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch06.lr_schedule", lr_schedule)
### END HIDDEN TESTS

# %% [markdown]
# ### Where `scheduler.step()` goes, and what happens when it goes elsewhere
#
# The rule: **once per epoch, after the epoch's `optimizer.step()` calls.** Two mistakes are
# common, and neither raises an error, so let us watch them. We train 6 epochs of 5 batches
# with `StepLR(step_size=2, gamma=0.5)` and record the lr each *batch* trained with.
#
# 1. `scheduler.step()` inside the batch loop: the scheduler counts batches, not epochs, so
#    the decay meant for "every 2 epochs" happens every 2 batches. The learning rate has
#    collapsed by 2^15 by the end.
# 2. `scheduler.step()` at the *start* of the epoch, before any `optimizer.step()`: PyTorch
#    warns, and the first epoch is trained with the already-decayed schedule: every lr comes
#    one epoch early.

# %%
def lr_per_batch(where, epochs=6, batches=5):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    used = []
    for _ in range(epochs):
        if where == "before the epoch":
            sched.step()
        for _ in range(batches):
            p.grad = torch.ones(1)
            used.append(opt.param_groups[0]["lr"])
            opt.step()
            if where == "per batch":
                sched.step()
        if where == "after the epoch (right)":
            sched.step()
    return used


fig, ax = plt.subplots(figsize=(7, 3.5))
for where in ("after the epoch (right)", "per batch", "before the epoch"):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        used = lr_per_batch(where)
    ax.step(range(len(used)), used, where="post", label=where)
    for w in caught:
        print(f"{where}: PyTorch warns: {str(w.message)[:150]}...")
ax.set_yscale("log"); ax.set_xlabel("batch (5 per epoch)"); ax.set_ylabel("lr used")
ax.set_title("StepLR(step_size=2, gamma=0.5): where scheduler.step() is called")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 7. Checkpoints: stopping and resuming training
#
# Long training runs get interrupted (a time limit, a crash, a pre-empted GPU). To continue
# *as if nothing happened*, everything that influences the next step must be saved:
#
# * the model's weights: `model.state_dict()`;
# * the optimizer's state: `optimizer.state_dict()` holds the momentum buffers / Adam's `m`,
#   `v` and step counts, and each group's settings, including the current `lr`;
# * the scheduler's state: `scheduler.state_dict()`, its epoch counter. Without it the
#   schedule starts over.
#
# (With shuffled data or dropout, the random number generators' states too; here the data
# comes in a fixed order.) Let us look inside an Adam optimizer's state after two steps:

# %%
model = torch.nn.Linear(3, 2)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for _ in range(2):
    optimizer.zero_grad()
    model(torch.ones(4, 3)).sum().backward()
    optimizer.step()
sd = optimizer.state_dict()
print("param_groups:", {k: v for k, v in sd["param_groups"][0].items() if k in ("lr", "betas", "params")})
for index, st in sd["state"].items():
    print(f"state of parameter {index}:", {k: (tuple(v.shape) if v.ndim else float(v)) for k, v in st.items()})


# %% [markdown]
# Parameters are referred to by their position (0, 1, ...), not by identity, so a state dict
# can be loaded into a *new* optimizer over a *new* model built the same way. Save all three
# in one file with `torch.save({...}, path)` and read it back with `torch.load(path)`.
#
# The training loop of one epoch is given (and locked), so that your exercise is about the
# checkpoint only:

# %% nbgrader={"grade": false, "grade_id": "locked_05", "locked": true, "schema_version": 3, "solution": false}
def train_one_epoch(model, optimizer, batches):
    """One pass over `batches` (a list of (x, y)); returns the loss of each step."""
    losses = []
    for x_b, y_b in batches:
        optimizer.zero_grad()
        loss = F.mse_loss(model(x_b), y_b)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_06", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 4 · `resume_training(make_model, make_optimizer, make_scheduler, batches, epochs_before, epochs_after, path)` (2 points)
#
# Simulate an interruption:
#
# 1. build `model = make_model()`, `optimizer = make_optimizer(model)`, `scheduler = make_scheduler(optimizer)`;
# 2. train `epochs_before` epochs: `train_one_epoch(model, optimizer, batches)`, then `scheduler.step()`;
# 3. save a checkpoint to the file `path` with `torch.save`;
# 4. build a **new** model, optimizer and scheduler with the three factories (a new model has
#    new random weights), and load the checkpoint into them;
# 5. train `epochs_after` more epochs with the new objects.
#
# Return `(model, losses)`: the new model, and the list of the losses of all steps (before
# and after the interruption). The result must be bit-identical (`torch.equal`) to training
# `epochs_before + epochs_after` epochs without interruption.

# %% nbgrader={"grade": false, "grade_id": "resume_training", "locked": false, "schema_version": 3, "solution": true}
def resume_training(make_model, make_optimizer, make_scheduler, batches, epochs_before, epochs_after, path):
    """Train, checkpoint to `path`, rebuild from the factories, load, and train on."""
    ### BEGIN SOLUTION
    model = make_model()
    optimizer = make_optimizer(model)
    scheduler = make_scheduler(optimizer)
    losses = []
    for _ in range(epochs_before):
        losses += train_one_epoch(model, optimizer, batches)
        scheduler.step()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict()}, path)

    model = make_model()
    optimizer = make_optimizer(model)
    scheduler = make_scheduler(optimizer)
    checkpoint = torch.load(path)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    for _ in range(epochs_after):
        losses += train_one_epoch(model, optimizer, batches)
        scheduler.step()
    return model, losses
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_resume_training", "locked": true, "points": 2, "schema_version": 3, "solution": false}
def _make_model():
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))  # new weights each call
_make_opt = lambda m: torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
_make_sched = lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=1, gamma=0.5)
_gen = torch.Generator().manual_seed(6)
_batches = [(torch.randn(5, 4, generator=_gen), torch.randn(5, 2, generator=_gen)) for _ in range(3)]
torch.manual_seed(0)
_reference = _make_model()
_opt, _initial = _make_opt(_reference), copy.deepcopy(_reference.state_dict())
_sched, _reference_losses = _make_sched(_opt), []
for _ in range(4):
    _reference_losses += train_one_epoch(_reference, _opt, _batches)
    _sched.step()
with tempfile.TemporaryDirectory() as _tmp:
    _path = os.path.join(_tmp, "ckpt.pt")
    torch.manual_seed(0)
    _resumed, _losses = resume_training(_make_model, _make_opt, _make_sched, _batches, 2, 2, _path)
    assert os.path.exists(_path), "save the checkpoint to `path` with torch.save"
assert len(_losses) == 12, f"4 epochs of 3 batches: 12 losses expected, got {len(_losses)}"
assert _losses[:6] == _reference_losses[:6], "the losses before the checkpoint differ from uninterrupted training"
assert _losses == _reference_losses, "the losses after resuming differ: is every state (model, optimizer, scheduler) restored?"
assert all(torch.equal(a, b) for a, b in zip(_resumed.state_dict().values(), _reference.state_dict().values())), \
    "the final weights are not bit-identical to uninterrupted training"
check("ch06.resume_training", resume_training)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch06.resume_training", resume_training)
### END HIDDEN TESTS

# %% [markdown]
# ## Check all your answers at once
#
# One line runs the grader's checks for every exercise of this chapter and prints, for
# each, a tick or what is wrong and the usual cause.

# %%
check_chapter("ch06", globals());

# %% [markdown]
# ## What comes next
#
# You can now read any optimizer in `torch/optim/` (they are the same loop over
# `param_groups`, with more options and faster multi-tensor versions), choose per-layer
# settings, schedule the learning rate, and make long runs resumable. Chapter 07 turns to
# the other side of the loop: modules with custom and dynamic structure.
