# %% [markdown]
# # Chapter 05 · torch.nn: layers, losses and parameters
#
# In chapter 01 you wrote the two-layer network, its loss, its gradients and its update by
# hand. Chapter 03 let autograd take over the gradients. This chapter hands over two more
# pieces to PyTorch's `torch.nn` package:
#
# * **layers** (`nn.Linear`, `nn.ReLU`, ...) that own their weights, chained with `nn.Sequential`;
# * **losses** (`nn.MSELoss`, `nn.CrossEntropyLoss`, `nn.BCEWithLogitsLoss`, ...), which you
#   will compare with their functional forms and, for the two most important ones, rewrite yourself.
#
# Along the way: how a module lists its parameters, how to initialise them on purpose, how
# to move a model between devices, and how to save it and load it back.
#
# You will write:
#
# 1. `build_two_layer(d_in, h, d_out)`: the chapter-01 network as an `nn.Sequential`,
# 2. `manual_sgd_step(model, lr)`: one gradient-descent update over `model.parameters()`,
# 3. `initialize_weights(model)`: a different initialisation rule per kind of layer,
# 4. `cross_entropy_from_scratch(logits, target)`: the classification loss, stable for any logits,
# 5. `bce_with_logits_from_scratch(logits, target, pos_weight=None)`: the binary loss, stable and weighted,
# 6. `save_and_reload(model, path)`: a checkpoint round trip.
#
# The checks compare your results with PyTorch's own (values *and* gradients) on fresh
# random inputs.

# %% nbgrader={"grade": false, "grade_id": "locked_01", "locked": true, "schema_version": 3, "solution": false}
import copy
import math
import os
import tempfile

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from autograder import check, check_chapter, default_device, needs, pick
from autograder import loss_curve, progress

torch.set_printoptions(precision=4, sci_mode=False)


def fresh_model_like(model):
    """A new model of the same architecture as `model`, on the CPU, with newly drawn
    weights: what calling the model's constructor again would give you."""
    new = copy.deepcopy(model).to("cpu")
    for m in new.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
        if hasattr(m, "reset_running_stats"):
            m.reset_running_stats()
    return new


# %% [markdown]
# ## 1. Layers are modules that own their parameters
#
# `nn.Linear(in_features, out_features)` computes $x W^\top + b$. Unlike chapter 01, where
# `w1` had shape `(D_in, H)` and you wrote `x @ w1`, the layer stores its weight as
# `(out_features, in_features)` and transposes it itself. The weight and the bias are
# `nn.Parameter`s: tensors that require a gradient and that the module *registers*, so that
# `parameters()` can find them.

# %%
torch.manual_seed(0)
layer = nn.Linear(4, 3)
print(layer)
print("weight", tuple(layer.weight.shape), "bias", tuple(layer.bias.shape))
print("is a Parameter:", isinstance(layer.weight, nn.Parameter), "| requires grad:", layer.weight.requires_grad)

x_demo = torch.randn(2, 4)
by_hand = x_demo @ layer.weight.T + layer.bias
print("layer(x) equals x @ W.T + b:", torch.allclose(layer(x_demo), by_hand))

# %% [markdown]
# Activations are modules too (`nn.ReLU`, `nn.Sigmoid`, `nn.Tanh`, `nn.GELU`, ...), without
# parameters. Each has a functional twin in `torch.nn.functional` (`F.relu`, ...): the module
# is handy inside `nn.Sequential`, the function inside your own `forward`.

# %%
z = torch.linspace(-4, 4, 401)
fig, ax = plt.subplots(figsize=(6, 3))
for act in (nn.ReLU(), nn.Sigmoid(), nn.Tanh(), nn.GELU(), nn.LeakyReLU(0.1)):
    ax.plot(z, act(z), label=type(act).__name__)
ax.axhline(0, color="gray", lw=0.5)
ax.axvline(0, color="gray", lw=0.5)
ax.legend()
ax.set_title("activation modules")
plt.show()


# %% [markdown]
# ## 2. `nn.Sequential`: the two-layer net in one line
#
# `nn.Sequential(a, b, c)` is a module whose forward pass is `c(b(a(x)))`. The chapter-01
# network is exactly a Linear, a ReLU and a Linear. Why still the ReLU? Without it the two
# linear layers multiply out to a single matrix: no more expressive than one layer.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_02", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 1 · `build_two_layer(d_in, h, d_out)` (2 points)
#
# Return an `nn.Sequential` of exactly three modules: `nn.Linear(d_in, h)` (with bias), `nn.ReLU()`,
# `nn.Linear(h, d_out)` (with bias), in this order, in float32 (the default). How you build
# it is up to you (one call, `append`, named layers from an `OrderedDict`...), and so is the
# initialisation: PyTorch's default is fine, the checks run your layers with whatever
# weights they hold.

# %% nbgrader={"grade": false, "grade_id": "build_two_layer", "locked": false, "schema_version": 3, "solution": true}
def build_two_layer(d_in, h, d_out):
    """The two-layer ReLU network of chapter 01 as an nn.Sequential."""
    ### BEGIN SOLUTION
    return nn.Sequential(nn.Linear(d_in, h), nn.ReLU(), nn.Linear(h, d_out))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_build_two_layer", "locked": true, "points": 2, "schema_version": 3, "solution": false}
net_t = build_two_layer(3, 5, 2)
assert isinstance(net_t, nn.Sequential), f"return an nn.Sequential, got {type(net_t).__name__}"
kinds_t = [type(m).__name__ for m in net_t]
assert kinds_t == ["Linear", "ReLU", "Linear"], f"layers should be [Linear, ReLU, Linear], got {kinds_t}"
assert net_t[0].weight.shape == (5, 3), \
    f"the first weight should be (h, d_in) = (5, 3), got {tuple(net_t[0].weight.shape)}"
assert sum(p.numel() for p in net_t.parameters()) == 5 * 3 + 5 + 2 * 5 + 2, "wrong number of parameters"
check("ch05.build_two_layer", build_two_layer)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch05.build_two_layer", build_two_layer)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. Where are the weights? `parameters()` and `named_parameters()`
#
# A module finds the parameters of all its sub-modules, at every depth. `named_parameters()`
# gives each a dotted name: `"0.weight"` is the weight of the sub-module at index 0. These
# names are also the keys of the `state_dict` (section 7). Below, the reference layout
# built here (not with your function, so this cell runs either way):

# %%
N, D_in, H, D_out = 64, 1000, 100, 10
ref_net = nn.Sequential(nn.Linear(D_in, H), nn.ReLU(), nn.Linear(H, D_out))
for name, p in ref_net.named_parameters():
    print(f"{name:10} {str(tuple(p.shape)):12} {p.numel():>7} values")
print("total:", sum(p.numel() for p in ref_net.parameters()))


# %% [markdown]
# ## 4. One gradient-descent step over `parameters()`
#
# After `loss.backward()`, every parameter `p` holds its gradient in `p.grad`. Gradient
# descent is then the chapter-01 update, applied to each parameter:
# $p \leftarrow p - \text{lr}\cdot \nabla_p L$. Two details matter:
#
# * the update must not itself be recorded by autograd, hence `torch.no_grad()`; and PyTorch
#   refuses an in-place change of a leaf that requires grad outside of it;
# * the update must change the parameter **in place** (`p -= ...`): `p = p - ...` would only
#   rebind a local name, and the model would never see it.
#
# Parameters that are frozen (`requires_grad=False`) or unused have `p.grad is None`: skip them.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_03", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 2 · `manual_sgd_step(model, lr)` (2 points)
#
# For every parameter `p` of `model` whose `p.grad` is not `None`, update it in place to
# `p - lr * p.grad`, without autograd recording it. Skip parameters without a gradient.
# Do not replace the parameters by new tensors (and leave their `requires_grad` as it is).
# The result must equal one `torch.optim.SGD(model.parameters(), lr=lr).step()`. No return
# value is needed.

# %% nbgrader={"grade": false, "grade_id": "manual_sgd_step", "locked": false, "schema_version": 3, "solution": true}
def manual_sgd_step(model, lr):
    """One step of plain gradient descent on every parameter that has a gradient."""
    ### BEGIN SOLUTION
    with torch.no_grad():
        for p in model.parameters():
            if p.grad is not None:
                p -= lr * p.grad
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_manual_sgd_step", "locked": true, "points": 2, "schema_version": 3, "solution": false}
lin_t = nn.Linear(2, 1)
with torch.no_grad():
    lin_t.weight.copy_(torch.tensor([[1.0, 2.0]]))
    lin_t.bias.fill_(0.5)
lin_t(torch.tensor([[1.0, 1.0]])).sum().backward()   # d/dw = [1, 1], d/db = 1
manual_sgd_step(lin_t, 0.1)
assert torch.allclose(lin_t.weight, torch.tensor([[0.9, 1.9]])), \
    f"weight should be [[0.9, 1.9]] after one step, got {lin_t.weight.data}"
assert torch.allclose(lin_t.bias, torch.tensor([0.4])), f"bias should be [0.4], got {lin_t.bias.data}"
check("ch05.manual_sgd_step", manual_sgd_step)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch05.manual_sgd_step", manual_sgd_step)
### END HIDDEN TESTS

# %% [markdown]
# ### The chapter-01 network, trained with `torch.nn`
#
# Compare with chapter 01: the forward pass is `model(x)`, the loss is `nn.MSELoss` (with
# `reduction="sum"`, the sum of squared errors of chapter 01), the gradients come from
# `backward()`, and the update is your `manual_sgd_step`. Gradients *accumulate* in `p.grad`,
# so they are reset before every backward pass (`model.zero_grad()`). The model and the data
# go to the fastest device there is with `.to(device)`.

# %%
device = default_device()
torch.manual_seed(0)
x = torch.randn(N, D_in, device=device)
y = torch.randn(N, D_out, device=device)
loss_fn = nn.MSELoss(reduction="sum")   # loss_fn(prediction, target): the prediction comes first
learning_rate = 1e-4
history = []
with needs("build_two_layer", "manual_sgd_step"):
    model = build_two_layer(D_in, H, D_out).to(device)
    for t in progress(range(pick(full=500, quick=40)), desc=f"training on {device}"):
        loss = loss_fn(model(x), y)
        history.append(loss.item())
        model.zero_grad()
        loss.backward()
        manual_sgd_step(model, learning_rate)
    print(f"loss: {history[0]:.4g} at the start, {history[-1]:.4g} after {len(history)} steps")
    loss_curve(history, title="Two-layer net with torch.nn (sum of squared errors)")
    plt.show()


# %% [markdown]
# ## 5. Initialisation: choosing the first weights on purpose
#
# Why care? Each layer multiplies the scale of its input by roughly (std of the weights) ×
# √(number of inputs). Stack many layers and a scale a bit too small vanishes, a bit too large
# explodes. The demo pushes random data through 20 Linear+ReLU layers and prints the std of
# the activations for three choices: a tiny fixed std, PyTorch's default, and **Kaiming**
# (He) initialisation, whose std $\sqrt{2/\text{fan}}$ is chosen to keep the scale of a ReLU
# network constant.

# %%
def activation_scales(init, depth=20, width=256):
    torch.manual_seed(0)
    h = torch.randn(512, width)
    scales = []
    for _ in range(depth):
        layer = nn.Linear(width, width)
        init(layer.weight)
        h = torch.relu(layer(h))
        scales.append(h.std().item())
    return scales

inits = {"normal std 0.01": lambda w: nn.init.normal_(w, std=0.01),
         "PyTorch default": lambda w: None,
         "kaiming_normal_ (relu)": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu")}
fig, ax = plt.subplots(figsize=(6, 3.5))
with torch.no_grad():
    for label, init in inits.items():
        ax.plot(range(1, 21), activation_scales(init), marker=".", label=label)
ax.set_yscale("log")
ax.set_xlabel("layer")
ax.set_ylabel("std of the activations")
ax.legend()
plt.show()

# %% [markdown]
# `torch.nn.init` holds the usual rules; each fills a tensor **in place** (hence the trailing
# `_`) and is not recorded by autograd. For a convolution with kernel $k_h \times k_w$,
# $\text{fan\_in} = C_{in} k_h k_w$ and $\text{fan\_out} = C_{out} k_h k_w$:
#
# | call | distribution |
# |---|---|
# | `nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")` | $\mathcal N(0, 2/\text{fan\_out})$ |
# | `nn.init.xavier_normal_(w)` | $\mathcal N(0, 2/(\text{fan\_in}+\text{fan\_out}))$ |
# | `nn.init.normal_(w, mean=0.0, std=0.01)` | $\mathcal N(0, 0.01^2)$; careful: `normal_(w, 0.01)` sets the *mean* |
# | `nn.init.zeros_(b)`, `nn.init.ones_(w)`, `nn.init.constant_(w, c)` | constants |
#
# A real network mixes kinds of layers, and each wants its own rule. `model.modules()` walks
# every module at every depth (`model.children()` only the first level), so one loop with
# `isinstance` tests reaches them all:

# %%
demo = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Sequential(nn.BatchNorm2d(8), nn.ReLU()), nn.Flatten())
print("children:", [type(m).__name__ for m in demo.children()])
print("modules: ", [type(m).__name__ for m in demo.modules()])


# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_04", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 3 · `initialize_weights(model)` (3 points)
#
# Re-initialise, in place, every module of `model` at every depth by this rule:
#
# * `nn.Conv2d`: weight from `nn.init.kaiming_normal_(weight, mode="fan_out", nonlinearity="relu")`, i.e.
#   normal with mean 0 and std $\sqrt{2/\text{fan\_out}}$; bias set to exactly 0 (if it has one);
# * `nn.Linear`: weight normal with mean 0 and std 0.01; bias exactly 0 (if it has one);
# * `nn.BatchNorm1d` and `nn.BatchNorm2d`: weight exactly 1, bias exactly 0;
# * any other module: leave it alone.
#
# Initialise the existing parameters **in place**: each stays the same tensor, on its
# device (the checks also run your function on a model that lives on the `meta` device, so a
# parameter replaced by a tensor made elsewhere shows). `torch.nn.init` does this; so do a
# tensor's own in-place methods (`.normal_()`, `.zero_()`, `.fill_()`) under
# `torch.no_grad()`. How you find the layers is up to you (`model.modules()`, `model.apply`,
# `isinstance` or `type(m) is`). No return value is needed. The checks measure, per layer of
# a large network, the sample std (within 5% of the rule's), the mean (near 0) and the shape
# of the distribution (normal, not uniform), and check the constants exactly.

# %% nbgrader={"grade": false, "grade_id": "initialize_weights", "locked": false, "schema_version": 3, "solution": true}
def initialize_weights(model):
    """Kaiming (fan_out, relu) for Conv2d, N(0, 0.01^2) for Linear, 1/0 for BatchNorm; zero biases."""
    ### BEGIN SOLUTION
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_initialize_weights", "locked": true, "points": 3, "schema_version": 3, "solution": false}
torch.manual_seed(1)
net_i = nn.Sequential(nn.Conv2d(4, 64, 3), nn.BatchNorm2d(64), nn.Flatten(), nn.Linear(100, 400))
with torch.no_grad():
    net_i[1].weight.fill_(5.0)
initialize_weights(net_i)
assert torch.all(net_i[0].bias == 0) and torch.all(net_i[3].bias == 0), "biases must be exactly zero"
assert torch.all(net_i[1].weight == 1) and torch.all(net_i[1].bias == 0), "BatchNorm: weight 1, bias 0"
std_conv = net_i[0].weight.std().item()
assert abs(std_conv / math.sqrt(2 / (64 * 9)) - 1) < 0.1, \
    f"conv weight std {std_conv:.4f}, expected about sqrt(2 / fan_out) = {math.sqrt(2 / 576):.4f}"
assert abs(net_i[3].weight.std().item() / 0.01 - 1) < 0.1, \
    f"linear weight std {net_i[3].weight.std().item():.4f}, expected about 0.01"
check("ch05.initialize_weights", initialize_weights)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch05.initialize_weights", initialize_weights)
### END HIDDEN TESTS

# %%
torch.manual_seed(0)
conv_demo = nn.Conv2d(64, 16, 3)
default_w = conv_demo.weight.detach().flatten().clone()
with needs("initialize_weights"):
    initialize_weights(conv_demo)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist(default_w, bins=80, alpha=0.6, density=True, label="PyTorch default (uniform)")
    ax.hist(conv_demo.weight.detach().flatten(), bins=80, alpha=0.6, density=True,
            label="kaiming_normal_, fan_out")
    ax.set_title("weights of Conv2d(64, 16, 3)")
    ax.legend()
    plt.show()

# %% [markdown]
# **The rest of `torch.nn.init`.** The table above named the rules this chapter uses; the
# module has a few more, each for a purpose. All fill a tensor in place; the cell draws each
# into a 256 × 256 weight (fan_in = fan_out = 256) and prints what it gives:
#
# * `uniform_(w, a, b)` / `normal_(w, mean, std)` / `trunc_normal_(w, std=..., a=-2, b=2)`:
#   plain distributions (the truncated normal redraws values outside `[a, b]`, so no weight
#   starts extreme: common in transformers);
# * `xavier_uniform_` / `xavier_normal_` (Glorot): variance $2/(	ext{fan\_in}+	ext{fan\_out})$,
#   for tanh or sigmoid layers; `kaiming_uniform_` / `kaiming_normal_` (He):
#   $	ext{gain}^2/	ext{fan}$ with the ReLU gain $\sqrt 2$. `nn.Linear` and `nn.Conv2d` start
#   with `kaiming_uniform_(w, a=sqrt(5))`, a uniform of bound $1/\sqrt{	ext{fan\_in}}$;
# * `calculate_gain(nonlinearity)`: the factor those rules use ($\sqrt 2$ for ReLU, 5/3 for tanh, 1 for linear);
# * `orthogonal_`: an orthogonal matrix (all singular values 1), good for recurrent weights;
# * `eye_` (identity matrix) and `dirac_` (identity convolution): a layer that starts as
#   "do nothing", as in residual-style initialisations;
# * `sparse_(w, sparsity)`: a given fraction of each column set to 0, the rest normal;
# * `zeros_`, `ones_`, `constant_(w, c)`: constants, for biases and normalisation layers.

# %%
torch.manual_seed(0)
w = torch.empty(256, 256)
rules = {
    "uniform_(w, -0.1, 0.1)": lambda: nn.init.uniform_(w, -0.1, 0.1),
    "trunc_normal_(w, std=0.02)": lambda: nn.init.trunc_normal_(w, std=0.02),
    "xavier_uniform_(w)": lambda: nn.init.xavier_uniform_(w),
    "xavier_normal_(w)": lambda: nn.init.xavier_normal_(w),
    "kaiming_uniform_(w, nonlinearity='relu')": lambda: nn.init.kaiming_uniform_(w, nonlinearity="relu"),
    "kaiming_normal_(w, nonlinearity='relu')": lambda: nn.init.kaiming_normal_(w, nonlinearity="relu"),
    "orthogonal_(w)": lambda: nn.init.orthogonal_(w),
    "eye_(w)": lambda: nn.init.eye_(w),
    "sparse_(w, sparsity=0.9)": lambda: nn.init.sparse_(w, sparsity=0.9),
}
for name, fill in rules.items():
    fill()
    singular = torch.linalg.svdvals(w)
    print(f"{name:42} std {w.std().item():.4f}  max |w| {w.abs().max().item():.3f}  "
          f"zeros {(w == 0).float().mean().item():5.1%}  singular values {singular.min().item():.2f}..{singular.max().item():.2f}")
print("gains: relu", round(nn.init.calculate_gain("relu"), 4), " tanh", round(nn.init.calculate_gain("tanh"), 4),
      " linear", nn.init.calculate_gain("linear"))
conv_id = nn.Conv2d(3, 3, 3, padding=1, bias=False)
nn.init.dirac_(conv_id.weight)
image = torch.randn(1, 3, 5, 5)
print("dirac_: the convolution returns its input unchanged:", torch.allclose(conv_id(image), image))

# %% [markdown]
# ## 6. Losses: modules, functions, and what they really compute
#
# Every loss exists twice, as a module (`nn.MSELoss()`) and as a function (`F.mse_loss`);
# they compute the same thing. The `reduction` argument says how the per-element losses
# become one number: `"mean"` (the default), `"sum"`, or `"none"` (keep them all). Chapter 01
# used the sum; the mean does not grow with the batch size, so the same learning rate
# suits any batch.
#
# **The order of the arguments matters: `loss_fn(prediction, target)`.** Some older
# tutorials write `criterion(target, prediction)`. For MSE the value happens to be the same,
# but most losses are not symmetric (cross-entropy wants logits first and class indices
# second, KL divergence and BCE give other numbers when swapped), and even for MSE a swapped
# call can send the gradient to the wrong tensor. The cell shows BCE both ways:

# %%
torch.manual_seed(0)
prob, label = torch.tensor([0.9, 0.2]), torch.tensor([1.0, 0.0])
print("BCE(prediction, target):", F.binary_cross_entropy(prob, label).item(),
      "  swapped:", F.binary_cross_entropy(label, prob).item())
pred, tgt = torch.randn(4, 3), torch.randn(4, 3)
print("MSE mean:", nn.MSELoss()(pred, tgt).item(), "=", ((pred - tgt) ** 2).mean().item())
print("MSE sum: ", nn.MSELoss(reduction="sum")(pred, tgt).item(), "=", ((pred - tgt) ** 2).sum().item())
print("L1:      ", nn.L1Loss()(pred, tgt).item(), "=", (pred - tgt).abs().mean().item())
print("functional equals module:", torch.equal(F.mse_loss(pred, tgt), nn.MSELoss()(pred, tgt)))

# %% [markdown]
# **L1, MSE and SmoothL1** differ in how they punish an error $e$: MSE quadratically (an
# outlier dominates), L1 linearly (its gradient is ±1 everywhere, even at a tiny error),
# SmoothL1 (Huber) is quadratic below `beta` and linear above: the best of both.

# %%
e = torch.linspace(-3, 3, 301)
zero = torch.zeros_like(e)
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(e, F.mse_loss(e, zero, reduction="none"), label="MSE  e²")
ax.plot(e, F.l1_loss(e, zero, reduction="none"), label="L1  |e|")
ax.plot(e, F.smooth_l1_loss(e, zero, reduction="none", beta=1.0), label="SmoothL1 (beta=1)")
ax.set_ylim(0, 4)
ax.set_xlabel("error e")
ax.legend()
plt.show()

# %% [markdown]
# **Cross-entropy** is the loss of classification. The network outputs one *logit* per class;
# softmax turns them into probabilities, and the loss is minus the log-probability of the
# right class, averaged over the batch:
#
# $$\ell_n = -\log \frac{e^{x_{n,t_n}}}{\sum_c e^{x_{n,c}}} = \underbrace{\log \sum_c e^{x_{n,c}}}_{\text{log-sum-exp}} - x_{n,t_n}$$
#
# `nn.CrossEntropyLoss` takes the raw logits (no softmax before it!) and integer class
# indices. It is exactly `log_softmax` followed by the negative log-likelihood `NLLLoss`.
#
# (A note on a common description: cross-entropy does not "one-hot encode the labels
# automatically". It *indexes*: it picks the log-probability of the target class in each
# row, which is what a dot product with a one-hot vector would give, without ever building
# one. Since PyTorch 1.10 it also accepts a row of class *probabilities* as the target
# (soft labels, e.g. label smoothing), and then it really computes $-\sum_c p_c \log q_c$.)

# %%
torch.manual_seed(0)
logits_demo = torch.randn(5, 4)
target_demo = torch.tensor([0, 3, 1, 1, 2])
ce = nn.CrossEntropyLoss()(logits_demo, target_demo)
two_steps = nn.NLLLoss()(F.log_softmax(logits_demo, dim=1), target_demo)
print(f"CrossEntropyLoss {ce.item():.6f}   log_softmax + NLLLoss {two_steps.item():.6f}")
soft = F.one_hot(target_demo, 4).float()          # the same targets as probability rows
print(f"with one-hot probability targets: {nn.CrossEntropyLoss()(logits_demo, soft).item():.6f}")

# %% [markdown]
# Why not compute $\log\sum_c e^{x_c}$ as written? Because $e^{x}$ overflows float32 already
# at $x \approx 89$, and underflows to 0 below $-104$. The cure is the **max trick**: with
# $m = \max_c x_c$,
#
# $$\log \sum_c e^{x_c} = m + \log \sum_c e^{x_c - m}$$
#
# Now every exponent is $\le 0$ (no overflow) and the largest term is $e^0 = 1$ (the sum is
# at least 1, so its log is finite).

# %%
big = torch.tensor([[1000.0, 0.0, -1000.0]])
print("naive log(sum(exp(x))):", torch.log(torch.exp(big).sum(dim=1)).item())
m = big.max(dim=1, keepdim=True).values
print("with the max trick:    ", (m + torch.log(torch.exp(big - m).sum(dim=1, keepdim=True))).item())


# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_05", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 4 · `cross_entropy_from_scratch(logits, target)` (3 points)
#
# `logits` has shape `(N, C)` (float32 or float64, any device), `target` holds `N` class
# indices (int64) in `0..C-1`. Return the mean cross-entropy as a 0-dimensional tensor of
# the logits' dtype, on their device, differentiable with respect to `logits` (autograd must
# give the same gradient as for `F.cross_entropy`). It must be finite for logits as large as
# ±10⁴. Do not call `F.cross_entropy`, `nll_loss`, `log_softmax` or `logsumexp` (nor their
# module forms): use the max trick. Create any new tensor on the logits' device
# (`device=logits.device`, `*_like`, or plain Python numbers): the checks run with a default
# device that is not the logits', so a tensor made without `device=` shows even without a
# GPU. Do not modify `logits` or `target`.

# %% nbgrader={"grade": false, "grade_id": "cross_entropy_from_scratch", "locked": false, "schema_version": 3, "solution": true}
def cross_entropy_from_scratch(logits, target):
    """Mean cross-entropy of raw logits (N, C) against class indices (N,), numerically stable."""
    ### BEGIN SOLUTION
    m = logits.max(dim=1, keepdim=True).values.detach()   # any constant works; no gradient needed
    log_sum_exp = m.squeeze(1) + torch.log(torch.exp(logits - m).sum(dim=1))
    picked = logits.gather(1, target.unsqueeze(1)).squeeze(1)
    return (log_sum_exp - picked).mean()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_cross_entropy_from_scratch", "locked": true, "points": 3, "schema_version": 3, "solution": false}
lg_t = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]], requires_grad=True)
tg_t = torch.tensor([0, 2])
ce_t = cross_entropy_from_scratch(lg_t, tg_t)
assert ce_t.shape == (), f"return one number (a 0-dim tensor), got shape {tuple(ce_t.shape)}"
expected_t = (-math.log(math.e ** 2 / (math.e ** 2 + 2)) + math.log(3)) / 2
assert abs(ce_t.item() - expected_t) < 1e-5, f"expected {expected_t:.6f}, got {ce_t.item():.6f}"
ce_t.backward()
assert lg_t.grad is not None, "the loss must be differentiable with respect to the logits"
huge_t = cross_entropy_from_scratch(torch.tensor([[1e4, -1e4, 0.0]]), torch.tensor([1]))
assert torch.isfinite(huge_t), f"logits of 1e4 gave {huge_t.item()}: use the max trick"
assert abs(huge_t.item() - 2e4) < 1, f"expected 20000, got {huge_t.item()}"
check("ch05.cross_entropy_from_scratch", cross_entropy_from_scratch)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch05.cross_entropy_from_scratch", cross_entropy_from_scratch)
### END HIDDEN TESTS

# %% [markdown]
# ## 7. Binary targets: BCE and BCE with logits
#
# With one yes/no answer per output, the network gives one logit $x$, the sigmoid turns it
# into a probability $\sigma(x) = 1/(1+e^{-x})$, and the **binary cross-entropy** is
#
# $$\ell = -\left[\,y \log \sigma(x) + (1-y)\log(1-\sigma(x))\,\right].$$
#
# PyTorch offers it twice: `nn.BCELoss` takes *probabilities* (you apply the sigmoid),
# `nn.BCEWithLogitsLoss` takes the *logits*. Prefer the second. Once $\sigma(x)$ has rounded
# to exactly 1 or 0 in float32 (for $|x|$ above ~17 or ~104), its log is gone: `BCELoss` can
# only clamp the log at −100, so every confident mistake costs at most 100, whatever the logit.

# %%
xs = torch.tensor([-500.0, -200.0, -50.0, 0.0, 50.0])
ones = torch.ones_like(xs)
print("logit               ", xs.tolist())
print("BCELoss(sigmoid(x)) ", F.binary_cross_entropy(torch.sigmoid(xs), ones, reduction="none").tolist())
print("BCEWithLogitsLoss   ", F.binary_cross_entropy_with_logits(xs, ones, reduction="none").tolist())

# %% [markdown]
# The stable way works with logs from the start. Since $\log\sigma(x) = -\log(1+e^{-x})$ and
# $\log(1-\sigma(x)) = -\log(1+e^{x})$, the loss needs only the **softplus**
# $\log(1+e^{z})$, which can be computed without any overflow as
#
# $$\log(1+e^{z}) = \max(z, 0) + \log\left(1 + e^{-|z|}\right)$$
#
# (`torch.log1p(u)` computes $\log(1+u)$ accurately even for tiny $u$). The naive formula
# overflows where the stable one stays on the straight line:

# %%
zs = torch.linspace(-120, 120, 481)
naive = torch.log(1 + torch.exp(zs))
stable = zs.clamp(min=0) + torch.log1p(torch.exp(-zs.abs()))
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(zs, stable, label="max(z, 0) + log1p(exp(-|z|))", lw=3)
ax.plot(zs, torch.where(torch.isfinite(naive), naive, torch.nan), "--", label="log(1 + exp(z)) (inf beyond ~89)")
ax.set_xlabel("z")
ax.legend()
plt.show()


# %% [markdown]
# **Class imbalance and `pos_weight`.** When positives are rare (say 1 in 10), a network can
# score well by always answering "no". `pos_weight` $p$ multiplies the positive term only:
#
# $$\ell = -\left[\,p\, y \log \sigma(x) + (1-y)\log(1-\sigma(x))\,\right]$$
#
# With $p$ = (number of negatives)/(number of positives), both classes weigh the same in
# total. `pos_weight` holds one value per class (the last dimension of the logits) and is
# broadcast over the batch.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_06", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 5 · `bce_with_logits_from_scratch(logits, target, pos_weight=None)` (3 points)
#
# `logits` and `target` have the same shape (any shape; float32 or float64, any device);
# `target` holds values in $[0, 1]$ (soft labels allowed). `pos_weight` is `None` (meaning 1)
# or a tensor that broadcasts against the last dimension. Return the mean over all elements
# of $-[\,p\,y\log\sigma(x) + (1-y)\log(1-\sigma(x))\,]$ as a 0-dimensional tensor of the
# logits' dtype, differentiable with respect to `logits`, equal (value and gradient) to
# `F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight)`, and finite for
# logits as large as ±10⁴. Do not call the built-in BCE losses, `softplus` or `logsigmoid`:
# use $\max(z,0) + \log(1+e^{-|z|})$. As in exercise 4: new tensors on the logits' device
# (or plain numbers), and leave the inputs unchanged.

# %% nbgrader={"grade": false, "grade_id": "bce_with_logits_from_scratch", "locked": false, "schema_version": 3, "solution": true}
def bce_with_logits_from_scratch(logits, target, pos_weight=None):
    """Mean binary cross-entropy of raw logits, numerically stable, optionally weighted."""
    ### BEGIN SOLUTION
    def log1p_exp(z):                     # log(1 + e^z) without overflow, any z
        return z.clamp(min=0) + torch.log1p(torch.exp(-z.abs()))

    p = 1.0 if pos_weight is None else pos_weight
    loss = p * target * log1p_exp(-logits) + (1 - target) * log1p_exp(logits)
    return loss.mean()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_bce_with_logits_from_scratch", "locked": true, "points": 3, "schema_version": 3, "solution": false}
zero_t = bce_with_logits_from_scratch(torch.zeros(2, 2), torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
assert zero_t.shape == (), f"return one number (a 0-dim tensor), got shape {tuple(zero_t.shape)}"
assert abs(zero_t.item() - math.log(2)) < 1e-6, f"at logit 0 every element costs log 2 = 0.6931, got {zero_t.item()}"
w_t = bce_with_logits_from_scratch(torch.zeros(1, 2), torch.tensor([[1.0, 0.0]]), pos_weight=torch.tensor([3.0, 3.0]))
assert abs(w_t.item() - 2 * math.log(2)) < 1e-6, \
    f"pos_weight 3 weighs only the positive: (3 log 2 + log 2) / 2 = {2 * math.log(2):.4f}, got {w_t.item():.4f}"
lg_b = torch.tensor([1e4, -1e4], requires_grad=True)
big_t = bce_with_logits_from_scratch(lg_b, torch.tensor([0.0, 1.0]))
assert torch.isfinite(big_t), f"logits of 1e4 gave {big_t.item()}: use the stable softplus"
big_t.backward()
assert torch.allclose(lg_b.grad, torch.tensor([0.5, -0.5])), f"gradient should be [0.5, -0.5], got {lg_b.grad}"
check("ch05.bce_with_logits_from_scratch", bce_with_logits_from_scratch)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch05.bce_with_logits_from_scratch", bce_with_logits_from_scratch)
### END HIDDEN TESTS

# %% [markdown]
# ## 8. The rest of the loss catalogue
#
# Regression and classification losses cover most training, but `torch.nn` holds a loss
# for each of a few other tasks. Two deserve a closer look first.
#
# `nn.KLDivLoss` measures how far a predicted distribution $q$ is from a target $p$:
# $\sum p\,(\log p - \log q)$. Its odd convention: the *input* is $\log q$ (log-probabilities,
# e.g. from `log_softmax`), the *target* is $p$ (probabilities), and `reduction="batchmean"`
# gives the mathematically right average (divide the sum by the batch size). Identical
# distributions give 0. It is the loss of knowledge distillation (a small network learns a
# large one's output distribution).
#
# `nn.TripletMarginLoss` trains embeddings: an *anchor* should be closer to a *positive*
# (same class) than to a *negative* by at least a `margin`:
# $\max(\lVert a-p\rVert - \lVert a-n\rVert + \text{margin}, 0)$.

# %%
torch.manual_seed(0)
log_q = F.log_softmax(torch.randn(3, 5), dim=1)
p_dist = F.softmax(torch.randn(3, 5), dim=1)
kl = nn.KLDivLoss(reduction="batchmean")(log_q, p_dist)
by_hand = (p_dist * (p_dist.log() - log_q)).sum() / 3
print(f"KLDivLoss {kl.item():.6f}  by hand {by_hand.item():.6f}  KL(p, p) = "
      f"{nn.KLDivLoss(reduction='batchmean')(p_dist.log(), p_dist).item():.2g}")

anchor, positive, negative = torch.randn(4, 8), torch.randn(4, 8), torch.randn(4, 8)
triplet = nn.TripletMarginLoss(margin=1.0)(anchor, positive, negative)
d_pos = F.pairwise_distance(anchor, positive)
d_neg = F.pairwise_distance(anchor, negative)
print(f"TripletMarginLoss {triplet.item():.6f}  by hand {(d_pos - d_neg + 1.0).clamp(min=0).mean().item():.6f}")

# %% [markdown]
# **A gallery of the others**, each on a tiny example, with what it is for. Read the
# `target` column as "what the data says" and the `input` column as "what the network
# outputs". Each value is checked against the formula written next to it.

# %%
torch.manual_seed(0)
s1, s2 = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([1.0, 1.5, -3.0])   # scores of two items
pm = torch.tensor([1.0, 1.0, -1.0])                                     # +1: the first should rank higher
dist, same = torch.tensor([0.3, 2.5, 0.8]), torch.tensor([1.0, -1.0, -1.0])
u, v = torch.randn(3, 4), torch.randn(3, 4)
rate, count = torch.tensor([0.5, 1.0, 2.0]), torch.tensor([1.0, 0.0, 3.0])
mu, var, obs = torch.tensor([0.0, 1.0]), torch.tensor([1.0, 4.0]), torch.tensor([0.5, 3.0])
scores, tags = torch.tensor([[2.0, -1.0, 0.5]]), torch.tensor([[1.0, 0.0, 1.0]])
err = torch.tensor([0.2, -0.5, 3.0])

gallery = [  # (loss, value, by hand, what it is for)
    ("SmoothL1Loss(beta=1)", F.smooth_l1_loss(err, torch.zeros(3)),
     torch.where(err.abs() < 1, 0.5 * err ** 2, err.abs() - 0.5).mean(),
     "regression robust to outliers: quadratic near 0, linear beyond beta"),
    ("HuberLoss(delta=1)", F.huber_loss(err, torch.zeros(3)),
     torch.where(err.abs() < 1, 0.5 * err ** 2, err.abs() - 0.5).mean(),
     "the same with delta = beta = 1 (Huber = beta * SmoothL1 in general)"),
    ("MarginRankingLoss(margin=0)", F.margin_ranking_loss(s1, s2, pm),
     (-pm * (s1 - s2)).clamp(min=0).mean(),
     "ranking: which of two items should score higher (search, recommendations)"),
    ("HingeEmbeddingLoss(margin=1)", F.hinge_embedding_loss(dist, same),
     torch.where(same > 0, dist, (1 - dist).clamp(min=0)).mean(),
     "a distance that must be small for similar pairs (+1) and above the margin for others (-1)"),
    ("CosineEmbeddingLoss", F.cosine_embedding_loss(u, v, pm),
     torch.where(pm > 0, 1 - F.cosine_similarity(u, v), F.cosine_similarity(u, v).clamp(min=0)).mean(),
     "the same idea with the cosine of two embeddings"),
    ("SoftMarginLoss", F.soft_margin_loss(s1, pm), torch.log1p(torch.exp(-pm * s1)).mean(),
     "two-class logistic loss with labels +1 / -1"),
    ("MultiLabelSoftMarginLoss", F.multilabel_soft_margin_loss(scores, tags),
     F.binary_cross_entropy_with_logits(scores, tags),
     "several yes/no labels per example (BCE with logits, averaged over the labels)"),
    ("MultiMarginLoss", F.multi_margin_loss(scores - 1.5, torch.tensor([2])),
     (1 - (scores[0, 2] - 1.5) + (scores[0, :2] - 1.5)).clamp(min=0).sum() / 3,
     "multi-class hinge (SVM) loss: the right class must win by a margin of 1"),
    ("PoissonNLLLoss(log_input=False)", F.poisson_nll_loss(rate, count, log_input=False),
     (rate - count * torch.log(rate + 1e-8)).mean(),
     "counts (events per interval): the network predicts a rate"),
    ("GaussianNLLLoss", F.gaussian_nll_loss(mu, obs, var),
     (0.5 * (torch.log(var) + (obs - mu) ** 2 / var)).mean(),
     "regression that also predicts its own uncertainty (a variance per output)"),
]
for name, value, by_hand, purpose in gallery:
    assert torch.allclose(value, by_hand, atol=1e-6), name
    print(f"{name:32} {value.item():8.4f}   {purpose}")

# %% [markdown]
# **CTC** (`nn.CTCLoss`, connectionist temporal classification) is the loss of speech and
# handwriting recognition: the network emits one distribution per time step, over the
# characters plus a *blank*, and the target is a shorter sequence with no alignment given.
# CTC sums the probabilities of every alignment that collapses to the target (merge
# repeats, drop blanks). With 2 time steps and the target "a", the alignments are
# "a a", "a -" and "- a":

# %%
log_probs = F.log_softmax(torch.randn(2, 1, 3), dim=2)      # (time, batch, classes): 0 = blank, 1 = "a", 2 = "b"
ctc = F.ctc_loss(log_probs, torch.tensor([[1]]), input_lengths=torch.tensor([2]),
                 target_lengths=torch.tensor([1]), reduction="sum")
p = log_probs[:, 0].exp()
paths = p[0, 1] * p[1, 1] + p[0, 1] * p[1, 0] + p[0, 0] * p[1, 1]
print(f"CTCLoss {ctc.item():.6f}   -log(sum over the 3 alignments) {-torch.log(paths).item():.6f}")

# %% [markdown]
# ## 9. Devices, `state_dict`, saving and loading
#
# `model.to(device)` moves every parameter and buffer of a module **in place** (and returns
# the module); a tensor's `.to(device)` instead returns a *new* tensor. The inputs must be on
# the model's device.
#
# A model's **`state_dict()`** is an ordered dict from the dotted names of section 3 to
# tensors: the parameters *and the buffers*, the non-trainable state such as BatchNorm's
# running mean and variance. It is what you save: plain tensors, readable with
# `torch.load(path, weights_only=True)`, which never runs code from the file. (Saving the
# whole model object pickles its class, and a file that unpickles objects can run
# arbitrary code.) To load, build the same architecture and call `load_state_dict`.
#
# A checkpoint remembers the device of each tensor. `torch.load(path, map_location="cpu")`
# puts them all on the CPU: a model trained on a GPU then loads on a laptop without one.

# %%
bn_net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
for key, value in bn_net.state_dict().items():
    kind = "parameter" if key in dict(bn_net.named_parameters()) else "buffer"
    print(f"{key:22} {kind:9} {tuple(value.shape)}")

with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "demo.pt")
    torch.save(bn_net.to(device).state_dict(), path)
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    print("saved from", device, "-> loaded on", loaded["0.weight"].device)
bn_net.to("cpu");


# %% [markdown]
# **Saving the whole model, and why it is fragile.** `torch.save(model, path)` also works:
# you pass the model object itself as the first argument (there is no separate argument
# for it, whatever some older tutorials call it, e.g. a `save_model_obj` flag). The file
# then holds a *pickle* of the object: not the class's code, only a reference to it by
# name (`__main__.TinyNet`). Loading needs `weights_only=False` (since PyTorch 2.6 the
# default is `True`, which refuses anything but tensors and plain containers), and it
# works only where that exact class can be imported again, unchanged. Rename the class,
# move it to another module, or open the file in a fresh program that never defined it,
# and the file is unreadable. And unpickling can run arbitrary code, so such a file from
# someone else is a security risk. A `state_dict` has none of these problems: prefer it.

# %%
class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)

    def forward(self, x):
        return self.fc(x)


with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "whole.pt")
    torch.save(TinyNet(), path)                          # the object itself is pickled
    try:
        torch.load(path)                                 # weights_only=True by default
    except Exception as err:
        print("weights_only=True refuses it:", type(err).__name__)
    print("weights_only=False loads it:", type(torch.load(path, weights_only=False)).__name__)
    saved_class = TinyNet
    del TinyNet                                          # as in a program that never defined it
    try:
        torch.load(path, weights_only=False)
    except AttributeError as err:
        print("without the class definition:", err)
    TinyNet = saved_class


# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_07", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 6 · `save_and_reload(model, path)` (2 points)
#
# A checkpoint round trip, with what the checks look at:
#
# * the file at `path` holds `model.state_dict()` (parameters *and* buffers), written with
#   `torch.save`, so that `torch.load(path, weights_only=True)` reads it as a dict of tensors;
# * you read it back with `torch.load(path, map_location="cpu")` (the checks see whether
#   `path` was read and whether `map_location` was given: without it a checkpoint saved on
#   a GPU does not load on a machine without one) into a **new** model of the same
#   architecture on the CPU, and return that model. How you make the new model is up to
#   you: `fresh_model_like(model)` (defined at the top of the notebook: a CPU copy with
#   newly drawn weights) is the simplest;
# * every tensor of the new model's `state_dict` equals the original's bit for bit, on the
#   CPU, whatever device `model` is on;
# * `model` itself is left as it was: its values, its parameters, its device and its
#   train/eval mode. Careful: `model.cpu()` and `model.to(...)` move the module *in place*
#   (the checks see such a call even on a machine without a GPU).

# %% nbgrader={"grade": false, "grade_id": "save_and_reload", "locked": false, "schema_version": 3, "solution": true}
def save_and_reload(model, path):
    """Checkpoint round trip: save the state_dict, load it into a fresh CPU model, return it."""
    ### BEGIN SOLUTION
    torch.save(model.state_dict(), path)
    new = fresh_model_like(model)
    new.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return new
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_save_and_reload", "locked": true, "points": 2, "schema_version": 3, "solution": false}
with tempfile.TemporaryDirectory() as folder_t:
    orig_t = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    orig_t(torch.randn(8, 3))           # BatchNorm's running statistics change
    back_t = save_and_reload(orig_t, os.path.join(folder_t, "t.pt"))
    assert isinstance(back_t, nn.Module) and back_t is not orig_t, "return a new model, not the one you were given"
    assert os.path.exists(os.path.join(folder_t, "t.pt")), "nothing was saved at `path`"
    for key, value in orig_t.state_dict().items():
        assert torch.equal(back_t.state_dict()[key].cpu(), value.cpu()), f"{key} differs after the round trip"
check("ch05.save_and_reload", save_and_reload)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch05.save_and_reload", save_and_reload)
### END HIDDEN TESTS

# %% [markdown]
# ## Check all your answers at once
#
# The same checks as the hidden tests, one line per exercise.

# %%
check_chapter("ch05", globals());

# %% [markdown]
# ## What comes next
#
# The update rule is still yours (`manual_sgd_step`). Chapter 06 hands it over to
# `torch.optim`, with momentum, Adam and learning-rate schedules, and shows how an optimiser
# saves its own `state_dict` next to the model's, so that training can resume exactly.
