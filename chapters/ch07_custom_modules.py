# %% [markdown]
# # Chapter 07 · Custom and dynamic modules
#
# Until now we built networks from parts PyTorch gives us: `nn.Linear`, `nn.ReLU`,
# `nn.Sequential`. Sooner or later you need a part that does not exist yet: a layer with
# an unusual formula, a block that reuses its weights, a network whose shape changes from
# one call to the next. This chapter shows how to write such parts yourself, and then uses
# that skill to write convolution and pooling by hand and to assemble LeNet.
#
# You will write:
#
# 1. `TwoLayerNet`: our two-layer net as a class of its own,
# 2. `CenteredLayer`: a layer with no parameters at all,
# 3. `ListDense` and `DictDense`: parameters kept in `nn.ParameterList` / `nn.ParameterDict`,
# 4. `DynamicNet`: a net that picks its depth at random on every call and reuses one layer,
# 5. `corr2d(X, K)` and `Conv2D`: two-dimensional cross-correlation and a layer around it,
# 6. `pool2d(X, size, mode)`: max and average pooling,
# 7. `LeNet`: the classic convolutional network, designed by you from its stage shapes,
# 8. `Normalize`: a normalisation layer (layer norm or batch norm) written by hand.
#
# Two rules hold in every exercise. **Leave the tensors you are given unchanged** (no
# in-place operations such as `x -= m` or `x.relu_()` on them: compute new tensors).
# And **keep everything on the input's device**: the checks also run each exercise on
# PyTorch's `meta` device, which stands in for a GPU (its tensors have a shape and a dtype
# but no values), so a tensor created without `device=`, or a layer that is not
# registered and so not moved by `.to(device)`, shows up even on a machine without a GPU.
# The checks compare your outputs **and the gradients of your parameters** with PyTorch's
# own operations computed from the very same weights, and look at the names under which
# your parameters are registered.

# %% nbgrader={"grade": false, "grade_id": "locked_01", "locked": true, "schema_version": 3, "solution": false}
import random

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder import check, check_chapter, default_device, needs, pick
from autograder import loss_curve, progress

torch.manual_seed(0)
device = default_device()
print("device:", device)

# %% [markdown]
# ## 1. A module is a class with `__init__` and `forward`
#
# `nn.Sequential` is convenient, but it can only run its layers one after the other. A
# subclass of `nn.Module` can do anything Python can, and still behaves like every other
# layer: you can call it, list its parameters, move it to a GPU, save it, nest it.
#
# Two methods are all you write:
#
# * `__init__` **creates** the parts that hold state (layers, parameters). Call
#   `super().__init__()` first: it sets up the bookkeeping that lets the module find
#   everything you assign to `self` afterwards.
# * `forward(x)` **says how to use them**. You never call it directly: `model(x)` calls
#   `forward` for you (and runs hooks around it). Autograd records whatever `forward` does,
#   so you never write a backward pass for a module built from differentiable operations.
#
# Here is the `nn.Sequential` version of our two-layer net, with the names we have used
# since chapter 01:

# %%
N, D_in, H, D_out = 64, 1000, 100, 10
x = torch.randn(N, D_in)
y = torch.randn(N, D_out)

seq = nn.Sequential(nn.Linear(D_in, H), nn.ReLU(), nn.Linear(H, D_out))
print(seq)
print("output:", tuple(seq(x).shape))
for name, p in seq.named_parameters():
    print(f"{name:10s} {tuple(p.shape)}")


# %% [markdown]
# The names `0.weight`, `2.bias` are positions in the sequence. A class of our own chooses
# better ones: **every `nn.Module` or `nn.Parameter` assigned to an attribute of `self`
# is registered under that attribute's name.** That registration is what
# `model.parameters()` (which the optimiser receives), `model.to(device)` and
# `model.state_dict()` rely on.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_02", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 1 · `TwoLayerNet(D_in, H, D_out)` (2 points)
#
# Write a subclass of `nn.Module` whose constructor takes `(D_in, H, D_out)` and creates
# exactly two layers, `self.linear1 = nn.Linear(D_in, H)` and `self.linear2 = nn.Linear(H, D_out)`.
# `forward(x)` returns `linear2(relu(linear1(x)))` for a batch `x` of shape `(N, D_in)`.
# (The parameter names are then `linear1.weight`, `linear1.bias`, `linear2.weight`, `linear2.bias`,
# and there are no others.) Any way of writing the ReLU is fine (`torch.relu`, `F.relu`, an
# `nn.ReLU()` attribute, `.clamp(min=0)`).

# %% nbgrader={"grade": false, "grade_id": "TwoLayerNet", "locked": false, "schema_version": 3, "solution": true}
class TwoLayerNet(nn.Module):
    """Two fully connected layers with a ReLU between them."""

    def __init__(self, D_in, H, D_out):
        ### BEGIN SOLUTION
        super().__init__()
        self.linear1 = nn.Linear(D_in, H)
        self.linear2 = nn.Linear(H, D_out)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        h_relu = self.linear1(x).clamp(min=0)
        return self.linear2(h_relu)
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_TwoLayerNet", "locked": true, "points": 2, "schema_version": 3, "solution": false}
torch.manual_seed(1)
net_t = TwoLayerNet(3, 4, 2)
names_t = [name for name, _ in net_t.named_parameters()]
assert names_t == ["linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias"], \
    f"expected the parameters linear1.weight, linear1.bias, linear2.weight, linear2.bias; got {names_t}"
x_t = torch.randn(5, 3)
y_t = net_t(x_t)
assert y_t.shape == (5, 2), f"a batch of 5 should give an output of shape (5, 2), got {tuple(y_t.shape)}"
expected_t = net_t.linear2(torch.relu(net_t.linear1(x_t)))
assert torch.allclose(y_t, expected_t), "forward should return linear2(relu(linear1(x)))"
check("ch07.TwoLayerNet", TwoLayerNet)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch07.TwoLayerNet", TwoLayerNet)
### END HIDDEN TESTS

# %% [markdown]
# ## 2. Layers without parameters
#
# A layer does not need weights. Anything you want to reuse as a step of a network, a
# fixed transformation, a reshape, a normalisation, can be a module with an empty
# `__init__` (just `super().__init__()`) and a `forward`. Because it has no parameters,
# `.to(device)` has nothing to move: the layer simply works on whatever tensor it is given,
# wherever that tensor lives.
#
# A **centring layer** subtracts the mean from its input, so that its output has mean zero.
# It will still pass gradients backwards: autograd differentiates through `X.mean()` too
# (the gradient of $X - \bar X$ is $g - \bar g$, not $g$).

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_03", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 2 · `CenteredLayer()` (1 point)
#
# A module with no constructor arguments and **no parameters**; `forward(X)` returns
# `X` minus the mean of **all** its elements (one number), for a tensor `X` of any shape.
# Gradients must flow through the mean too (keep it a tensor: no `.item()`), and `X` must
# not be changed in place.

# %% nbgrader={"grade": false, "grade_id": "CenteredLayer", "locked": false, "schema_version": 3, "solution": true}
class CenteredLayer(nn.Module):
    """Subtracts the mean of all elements: the output has mean zero."""

    def __init__(self):
        super().__init__()

    def forward(self, X):
        ### BEGIN SOLUTION
        return X - X.mean()
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_CenteredLayer", "locked": true, "points": 1, "schema_version": 3, "solution": false}
layer_t = CenteredLayer()
out_t = layer_t(torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]))
assert torch.allclose(out_t, torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0])), \
    f"[1, 2, 3, 4, 5] minus its mean 3 is [-2, -1, 0, 1, 2], got {out_t}"
assert len(list(layer_t.parameters())) == 0, "a centring layer has no parameters"
check("ch07.CenteredLayer", CenteredLayer)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch07.CenteredLayer", CenteredLayer)
### END HIDDEN TESTS

# %% [markdown]
# Since it is a module, it slots into `nn.Sequential` like any built-in layer. After a
# linear layer, the output of the whole stack has mean (almost) zero: the tiny remainder
# is float32 rounding.

# %%
with needs("CenteredLayer"):
    stack = nn.Sequential(nn.Linear(8, 128), CenteredLayer())
    print(f"mean of the output: {stack(torch.rand(4, 8)).mean().item():.2e}")


# %% [markdown]
# ## 3. Parameters you create yourself
#
# `nn.Linear` creates its own weights. When you need a weight of your own, wrap a tensor
# in `nn.Parameter` and assign it to `self`: that is the registration. A plain tensor
# assigned to `self` is **not** registered, and the difference matters in three places at
# once, as this demo shows:

# %%
class Scale(nn.Module):
    def __init__(self):
        super().__init__()
        self.registered = nn.Parameter(torch.ones(3))   # a parameter
        self.hidden = torch.ones(3)                     # just a tensor

m = Scale()
print("parameters():", [name for name, _ in m.named_parameters()])
print("state_dict():", list(m.state_dict()))
if torch.cuda.is_available():
    m.to("cuda")
    print("after .to('cuda'):", m.registered.device, "vs", m.hidden.device)


# %% [markdown]
# The optimiser gets `model.parameters()`, so `hidden` would never be trained; it would not
# be saved; and it would stay on the CPU while the rest of the model moves to the GPU.
#
# What if you want a *variable number* of weights? A Python list of parameters has the
# same problem as the plain tensor: the module does not look inside lists. PyTorch's
# containers **`nn.ParameterList`** and **`nn.ParameterDict`** do register what they hold,
# under the names `<attribute>.<index>` and `<attribute>.<key>`.

# %%
class Hidden(nn.Module):
    def __init__(self):
        super().__init__()
        self.plain = [nn.Parameter(torch.ones(2)) for _ in range(3)]
        self.good = nn.ParameterList([nn.Parameter(torch.ones(2)) for _ in range(3)])

print([name for name, _ in Hidden().named_parameters()])


# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_04", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 3 · `ListDense(sizes)` (2 points)
#
# `sizes` is a list `[D_0, D_1, ..., D_k]`. Keep `k` weight matrices in
# `self.params = nn.ParameterList(...)`, where `self.params[i]` has shape
# `(sizes[i], sizes[i + 1])` (no biases; initial values are up to you, e.g.
# `torch.randn(a, b) / a ** 0.5`). `forward(x)` multiplies `x` (shape `(N, D_0)`) by each
# matrix in turn, `x = x @ W`, with a ReLU after every matrix **except the last**. No other
# parameters.

# %% nbgrader={"grade": false, "grade_id": "ListDense", "locked": false, "schema_version": 3, "solution": true}
class ListDense(nn.Module):
    """A stack of bias-free dense layers kept in a ParameterList."""

    def __init__(self, sizes):
        ### BEGIN SOLUTION
        super().__init__()
        self.params = nn.ParameterList(
            [nn.Parameter(torch.randn(a, b) / a ** 0.5) for a, b in zip(sizes[:-1], sizes[1:])])
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        for i, W in enumerate(self.params):
            x = x @ W
            if i < len(self.params) - 1:
                x = torch.relu(x)
        return x
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_ListDense", "locked": true, "points": 2, "schema_version": 3, "solution": false}
torch.manual_seed(2)
dense_t = ListDense([4, 3, 2])
shapes_t = [(name, tuple(p.shape)) for name, p in dense_t.named_parameters()]
assert shapes_t == [("params.0", (4, 3)), ("params.1", (3, 2))], \
    f"expected params.0 of shape (4, 3) and params.1 of shape (3, 2), got {shapes_t}"
x_t = torch.randn(5, 4)
expected_t = torch.relu(x_t @ dense_t.params[0]) @ dense_t.params[1]
assert torch.allclose(dense_t(x_t), expected_t, atol=1e-6), \
    "forward should compute relu(x @ params[0]) @ params[1] for two matrices"
check("ch07.ListDense", ListDense)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch07.ListDense", ListDense)
### END HIDDEN TESTS

# %% [markdown]
# A `ParameterDict` does the same with names instead of positions. One use: a model with
# several **heads** sharing one input, where each call chooses which head to use.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_05", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 4 · `DictDense(D_in, heads)` (2 points)
#
# `heads` is a dict `{name: D_out}`. Keep one weight matrix per head in
# `self.params = nn.ParameterDict(...)`, with `self.params[name]` of shape `(D_in, D_out)`
# (no biases, no other parameters; any initial values). `forward(x, choice)` returns
# `x @ self.params[choice]`.

# %% nbgrader={"grade": false, "grade_id": "DictDense", "locked": false, "schema_version": 3, "solution": true}
class DictDense(nn.Module):
    """Several bias-free heads in a ParameterDict; forward uses the chosen one."""

    def __init__(self, D_in, heads):
        ### BEGIN SOLUTION
        super().__init__()
        self.params = nn.ParameterDict(
            {name: nn.Parameter(torch.randn(D_in, d_out)) for name, d_out in heads.items()})
        ### END SOLUTION

    def forward(self, x, choice):
        ### BEGIN SOLUTION
        return x @ self.params[choice]
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_DictDense", "locked": true, "points": 2, "schema_version": 3, "solution": false}
torch.manual_seed(3)
heads_t = DictDense(4, {"linear1": 4, "linear2": 1, "linear3": 2})
shapes_t = {name: tuple(p.shape) for name, p in heads_t.named_parameters()}
assert shapes_t == {"params.linear1": (4, 4), "params.linear2": (4, 1), "params.linear3": (4, 2)}, \
    f"expected params.linear1 (4, 4), params.linear2 (4, 1), params.linear3 (4, 2), got {shapes_t}"
x_t = torch.randn(3, 4)
assert heads_t(x_t, "linear3").shape == (3, 2), "forward(x, 'linear3') should have shape (3, 2)"
assert torch.allclose(heads_t(x_t, "linear2"), x_t @ heads_t.params["linear2"]), \
    "forward(x, 'linear2') should be x @ self.params['linear2']"
check("ch07.DictDense", DictDense)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch07.DictDense", DictDense)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Nested modules and `nn.ModuleList`
#
# Modules hold modules: an attribute that is itself a module is registered with all of its
# parameters, under dotted names. So blocks compose: a block of layers, a network of blocks.
# For a variable number of sub-modules, `nn.ModuleList` is to modules what `ParameterList` is
# to parameters (and a plain list hides them, exactly as before).

# %%
class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.linear = nn.Linear(width, width)

    def forward(self, x):
        return torch.relu(self.linear(x))


class Tower(nn.Module):
    def __init__(self, width, n_blocks):
        super().__init__()
        self.blocks = nn.ModuleList([Block(width) for _ in range(n_blocks)])
        self.head = nn.Linear(width, 1)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x)


tower = Tower(width=8, n_blocks=3)
print(tower)
print([name for name, _ in tower.named_parameters()])
print("output:", tuple(tower(torch.randn(2, 8)).shape))


# %% [markdown]
# ## 5. A dynamic network, and a layer used several times
#
# PyTorch builds the graph of a computation *while* `forward` runs, so `forward` may use
# ordinary Python control flow: an `if`, a loop whose length changes from call to call. The
# classic example (from Justin Johnson's PyTorch examples) is a net whose depth is drawn at
# random on each call, and whose hidden layers are **one and the same layer** used again.
#
# What happens to the gradient of a layer used three times? Write its weight $W$ three
# times in the forward pass: $h_1 = f(h_0 W)$, $h_2 = f(h_1 W)$, $h_3 = f(h_2 W)$. The loss
# depends on $W$ through all three uses, so by the chain rule
# $\partial L/\partial W$ is the **sum** of the three contributions. Autograd does this for
# you: `.grad` accumulates over every use. (This is also why you zero gradients between
# optimiser steps: `.grad` is always a running sum.)

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_06", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 5 · `DynamicNet(D_in, H, D_out)` (3 points)
#
# Create three layers: `self.input_linear = nn.Linear(D_in, H)`,
# `self.middle_linear = nn.Linear(H, H)` and `self.output_linear = nn.Linear(H, D_out)`.
# `forward(x, depth=None)`:
# 1. `h = relu(input_linear(x))`;
# 2. if `depth` is `None`, draw it **on every call** with `random.randint(0, 3)` (0, 1, 2 or 3,
#    each possible; another random source is fine if it gives the same four values);
# 3. apply `h = relu(middle_linear(h))` exactly `depth` times (the *same* layer each time);
# 4. return `output_linear(h)`.
#
# The `depth` argument lets the tests (and you) run the net at a chosen depth. The checks
# call `forward(x)` 60 times without a depth and expect every depth from 0 to 3 to come up.

# %% nbgrader={"grade": false, "grade_id": "DynamicNet", "locked": false, "schema_version": 3, "solution": true}
class DynamicNet(nn.Module):
    """Input layer, a random number of uses of one shared middle layer, output layer."""

    def __init__(self, D_in, H, D_out):
        ### BEGIN SOLUTION
        super().__init__()
        self.input_linear = nn.Linear(D_in, H)
        self.middle_linear = nn.Linear(H, H)
        self.output_linear = nn.Linear(H, D_out)
        ### END SOLUTION

    def forward(self, x, depth=None):
        ### BEGIN SOLUTION
        h_relu = self.input_linear(x).clamp(min=0)
        if depth is None:
            depth = random.randint(0, 3)
        for _ in range(depth):
            h_relu = self.middle_linear(h_relu).clamp(min=0)
        return self.output_linear(h_relu)
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_DynamicNet", "locked": true, "points": 3, "schema_version": 3, "solution": false}
torch.manual_seed(4)
dyn_t = DynamicNet(3, 5, 2)
assert len(list(dyn_t.parameters())) == 6, \
    "three nn.Linear layers give 6 parameters; the middle layer is created once and reused"
x_t = torch.randn(4, 3)
h_t = torch.relu(dyn_t.input_linear(x_t))
h_t = torch.relu(dyn_t.middle_linear(torch.relu(dyn_t.middle_linear(h_t))))
assert torch.allclose(dyn_t(x_t, depth=2), dyn_t.output_linear(h_t), atol=1e-6), \
    "with depth=2 the middle layer must be applied exactly twice"
assert dyn_t(x_t).shape == (4, 2), "forward(x) without a depth should still return shape (N, D_out)"
check("ch07.DynamicNet", DynamicNet)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch07.DynamicNet", DynamicNet)
### END HIDDEN TESTS

# %% [markdown]
# Let us *see* the sum. Run the net at depth 3, then compute the three contributions of
# the middle layer separately, with three independent copies of its weight in a functional
# version of the same net: their gradients add up to `.grad` of the shared weight.

# %%
with needs("DynamicNet"):
    torch.manual_seed(5)
    dyn = DynamicNet(4, 6, 2)
    x_s = torch.randn(3, 4)
    dyn(x_s, depth=3).sum().backward()

    copies = [dyn.middle_linear.weight.detach().clone().requires_grad_() for _ in range(3)]
    h = torch.relu(dyn.input_linear(x_s))
    for W in copies:
        h = torch.relu(F.linear(h, W, dyn.middle_linear.bias))
    dyn.output_linear(h).sum().backward()
    total = sum(W.grad for W in copies)
    print("shared .grad equals the sum of the three uses:",
          torch.allclose(dyn.middle_linear.weight.grad, total, atol=1e-6))


# %% [markdown]
# ## 6. Convolutions written by hand
#
# A fully connected layer looks at every input at once. For images that is wasteful (a
# 28 x 28 picture would need 784 weights per hidden unit) and it ignores that nearby pixels
# belong together. A **convolutional** layer instead slides a small kernel `K` of
# `kh x kw` weights over the image and computes, at every position, the sum of the
# products of the kernel with the window under it:
#
# $$Y[i, j] = \sum_{a < k_h} \sum_{b < k_w} X[i + a, j + b]\, K[a, b]$$
#
# Strictly speaking this is **cross-correlation**: a mathematical convolution flips the
# kernel first. Deep-learning libraries (PyTorch's `F.conv2d` included) compute the
# cross-correlation and call it convolution; since the kernel is learned, the flip makes no
# difference. A `kh x kw` kernel fits `h - kh + 1` times down and `w - kw + 1` times across
# an `h x w` input: that is the output's shape.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_07", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 6 · `corr2d(X, K)` (2 points)
#
# Return the 2-D cross-correlation of a 2-D tensor `X` (shape `(h, w)`) with a 2-D kernel
# `K` (shape `(kh, kw)`): a tensor of shape `(h - kh + 1, w - kw + 1)` with the formula
# above, on `X`'s device and with `X`'s dtype. Gradients must flow to both `X` and `K`
# (keep every value a tensor in the graph: no `.item()`, no `torch.tensor(...)` around
# results), and neither may be changed in place.
#
# **Write the sliding window yourself.** Loops over the output positions (or over the
# kernel's offsets), slicing, `*`, `.sum()`, `torch.stack` are all fine. PyTorch's
# ready-made convolutions, poolings and window extractors are not: no `F.conv2d` (nor
# `conv1d`, `conv_transpose2d`, `torch.conv2d`, `nn.Conv2d`), no pooling function or layer,
# no `F.unfold`, `nn.Unfold` or `Tensor.unfold`. The checks read your code and also watch
# the operations it runs, so these are found through helper functions and aliases too.

# %% nbgrader={"grade": false, "grade_id": "corr2d", "locked": false, "schema_version": 3, "solution": true}
def corr2d(X, K):
    """2-D cross-correlation of X with the kernel K (no padding, stride 1)."""
    ### BEGIN SOLUTION
    kh, kw = K.shape
    Y = torch.zeros(X.shape[0] - kh + 1, X.shape[1] - kw + 1, dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + kh, j:j + kw] * K).sum()
    return Y
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_corr2d", "locked": true, "points": 2, "schema_version": 3, "solution": false}
X_t = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
K_t = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
Y_t = corr2d(X_t, K_t)
assert Y_t.shape == (2, 2), f"a 2 x 2 kernel on a 3 x 3 input gives a 2 x 2 output, got {tuple(Y_t.shape)}"
assert torch.allclose(Y_t, torch.tensor([[19.0, 25.0], [37.0, 43.0]])), \
    f"expected [[19, 25], [37, 43]] (e.g. 0*0 + 1*1 + 3*2 + 4*3 = 19), got {Y_t}"
assert corr2d(torch.ones(4, 6), torch.ones(2, 3)).shape == (3, 4), \
    "a (2, 3) kernel on a (4, 6) input gives shape (3, 4): rows first, then columns"
check("ch07.corr2d", corr2d)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch07.corr2d", corr2d)
### END HIDDEN TESTS

# %% [markdown]
# What is a kernel good for? The kernel `[[1, -1]]` computes the difference of horizontally
# neighbouring pixels: zero on flat regions, non-zero exactly where the intensity changes.
# It is a vertical-edge detector:

# %%
with needs("corr2d"):
    img = torch.ones(6, 8)
    img[:, 2:6] = 0                       # a dark band in a bright image
    edges = corr2d(img, torch.tensor([[1.0, -1.0]]))
    fig, ax = plt.subplots(1, 2, figsize=(8, 2.6))
    ax[0].imshow(img, cmap="gray")
    ax[0].set_title("input")
    ax[1].imshow(edges, cmap="coolwarm", vmin=-1, vmax=1)
    ax[1].set_title("corr2d with [[1, -1]]: the edges")
    plt.tight_layout()
    plt.show()


# %% [markdown]
# A convolutional **layer** wraps the kernel as a parameter, adds a scalar bias, and lets
# gradient descent find the kernel: nobody has to design edge detectors by hand.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_08", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 7 · `Conv2D(kernel_size)` (2 points)
#
# A module whose constructor takes `kernel_size = (kh, kw)` and registers
# `self.weight`, an `nn.Parameter` of shape `(kh, kw)` (e.g. `torch.rand(kernel_size)`), and
# `self.bias`, an `nn.Parameter` of shape `(1,)` (e.g. zeros). `forward(x)` returns
# `corr2d(x, self.weight) + self.bias` for a 2-D input `x`, calling **your** `corr2d`: as
# in exercise 6, no PyTorch convolution, pooling or unfold here (the checks watch the
# operations `forward` runs). No other parameters.
# (The checks grade this module with a cross-correlation of the grader's own standing in
# for your `corr2d`, so a mistake there is not counted twice.)

# %% nbgrader={"grade": false, "grade_id": "Conv2D", "locked": false, "schema_version": 3, "solution": true}
class Conv2D(nn.Module):
    """A 2-D convolutional layer (single channel) with a learned kernel and bias."""

    def __init__(self, kernel_size):
        ### BEGIN SOLUTION
        super().__init__()
        self.weight = nn.Parameter(torch.rand(kernel_size))
        self.bias = nn.Parameter(torch.zeros(1))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return corr2d(x, self.weight) + self.bias
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_Conv2D", "locked": true, "points": 2, "schema_version": 3, "solution": false}
conv_t = Conv2D((1, 2))
shapes_t = {name: tuple(p.shape) for name, p in conv_t.named_parameters()}
assert shapes_t == {"weight": (1, 2), "bias": (1,)}, \
    f"expected parameters weight (1, 2) and bias (1,), got {shapes_t}"
with torch.no_grad():
    conv_t.weight.copy_(torch.tensor([[1.0, -1.0]]))
    conv_t.bias.fill_(0.5)
# PyTorch's cross-correlation stands in for your corr2d here, so this cell tests Conv2D alone.
_your_corr2d = globals().get("corr2d")
corr2d = lambda X, K: F.conv2d(X[None, None], K[None, None])[0, 0]
try:
    out_t = conv_t(torch.tensor([[1.0, 1.0, 0.0]]))
finally:
    corr2d = _your_corr2d
assert out_t.shape == (1, 2), f"a (1, 3) input and a (1, 2) kernel give shape (1, 2), got {tuple(out_t.shape)}"
assert torch.allclose(out_t, torch.tensor([[0.5, 1.5]])), \
    f"[1 - 1, 1 - 0] plus the bias 0.5 is [[0.5, 1.5]], got {out_t}"
check("ch07.Conv2D", Conv2D)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch07.Conv2D", Conv2D)
### END HIDDEN TESTS

# %% [markdown]
# Can the layer *learn* the edge detector? We give it the image and the edges we computed
# above, start from a random kernel, and minimise the mean squared error with plain
# gradient descent. The learned kernel should come out close to `[[1, -1]]` (and the bias
# near 0). (With the *sum* of the 42 squared errors instead of their mean, the same step
# size would be 42 times too large and the weights would blow up: try it.)

# %%
with needs("Conv2D", "corr2d"):
    torch.manual_seed(6)
    target = img[:, :-1] - img[:, 1:]   # what corr2d(img, [[1, -1]]) gives: the edges
    conv = Conv2D((1, 2))
    lr, steps = 0.5, pick(full=100, quick=40)
    history = []
    for step in progress(range(steps), desc="learning the kernel"):
        loss = ((conv(img) - target) ** 2).mean()
        conv.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in conv.parameters():
                p -= lr * p.grad
        history.append(loss.item())
    print("learned kernel:", conv.weight.data.numpy().round(3), " bias:", round(conv.bias.item(), 3))
    loss_curve(history, title="Learning a 1 x 2 kernel")
    plt.show()


# %% [markdown]
# ## 7. Pooling
#
# A convolution tells *where* a pattern is, pixel by pixel; often we only care whether it
# is present *somewhere nearby*. A **pooling** layer summarises each window by one number,
# its maximum (**max pooling**: "is the pattern here at all?") or its mean (**average
# pooling**: "how much of it is here?"). It has no parameters, and it makes the result less
# sensitive to small shifts of the input. Pooling usually also steps over the input with a
# stride equal to the window, which halves the resolution for 2 x 2 windows; here, to keep
# one formula with `corr2d`, the window slides one step at a time (stride 1).

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_09", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 8 · `pool2d(X, size, mode)` (2 points)
#
# `X` is a 2-D tensor `(h, w)`, `size = (p_h, p_w)` the window, `mode` either `"max"` (the
# default) or `"avg"`. Return the tensor of shape `(h - p_h + 1, w - p_w + 1)` whose entry
# `[i, j]` is the max (or the mean) of `X[i:i + p_h, j:j + p_w]`, with `X`'s dtype and
# device (stride 1, no padding). Gradients must flow to `X`, which must not be changed in
# place.
#
# **Take each window's max or mean yourself**: loops, slicing, `.max()`, `.amax()`,
# `.mean()` are fine; as in exercise 6, no PyTorch pooling (`F.max_pool2d`, `F.avg_pool2d`,
# `nn.MaxPool2d`, ...), convolution or unfold, also not through a helper.

# %% nbgrader={"grade": false, "grade_id": "pool2d", "locked": false, "schema_version": 3, "solution": true}
def pool2d(X, size, mode="max"):
    """Max or average pooling of a 2-D tensor with a (p_h, p_w) window and stride 1."""
    ### BEGIN SOLUTION
    p_h, p_w = size
    Y = torch.zeros(X.shape[0] - p_h + 1, X.shape[1] - p_w + 1, dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            window = X[i:i + p_h, j:j + p_w]
            Y[i, j] = window.max() if mode == "max" else window.mean()
    return Y
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_pool2d", "locked": true, "points": 2, "schema_version": 3, "solution": false}
X_t = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
assert torch.allclose(pool2d(X_t, (2, 2), "max"), torch.tensor([[4.0, 5.0], [7.0, 8.0]])), \
    "max pooling of [[0, 1, 2], [3, 4, 5], [6, 7, 8]] with a 2 x 2 window is [[4, 5], [7, 8]]"
assert torch.allclose(pool2d(X_t, (2, 2), "avg"), torch.tensor([[2.0, 3.0], [5.0, 6.0]])), \
    "average pooling of the same input is [[2, 3], [5, 6]]"
assert pool2d(X_t, (1, 2), "max").shape == (3, 2), "a (1, 2) window on a 3 x 3 input gives shape (3, 2)"
check("ch07.pool2d", pool2d)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch07.pool2d", pool2d)
### END HIDDEN TESTS

# %% [markdown]
# ## 8. LeNet: designing from the shapes
#
# LeNet-5 (LeCun et al., 1998) read handwritten digits for banks and post offices. It is
# two convolution **blocks** followed by a **head** of three fully connected layers. Each
# block is a convolution, an activation (a sigmoid in 1998: ReLU was not popular yet) and
# a 2 x 2 pooling with stride 2 (average pooling then). PyTorch's `nn.Conv2d` works on
# batches of multi-channel images `(N, C, h, w)`: each of its `C_out` kernels spans all
# `C_in` input channels, so its weight has shape `(C_out, C_in, kh, kw)`, plus one bias per
# output channel.
#
# The hard part of such a network is getting the sizes right, and they follow from one
# rule: a `k x k` kernel with padding `p` (and stride 1) turns a side of `n` into
# `n + 2p - k + 1`, and a pooling with window and stride 2 halves it (rounding down). Here
# are the shapes LeNet's stages must have, for 28 x 28 single-channel images:
#
# | stage | what it does | output shape |
# |---|---|---|
# | input | | (N, 1, 28, 28) |
# | `block1` | convolution 1 -> 6 channels, activation, 2 x 2 pooling | (N, 6, 14, 14) |
# | `block2` | convolution 6 -> 16 channels, activation, 2 x 2 pooling | (N, 16, 5, 5) |
# | `head` | flatten, Linear(400, 120), activation, Linear(120, 84), activation, Linear(84, 10) | (N, 10) |
#
# Which kernel sizes and paddings give 28 -> 28 before the first pooling, and 14 -> 10 (or
# 11) before the second? That is your design decision: `k = 5, p = 2` (LeCun's choice) is
# one answer, `k = 3, p = 1` another.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_10", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 9 · `LeNet()` (3 points)
#
# Design a LeNet for `(N, 1, 28, 28)` images with no constructor arguments, in three
# registered parts with the stage shapes of the table above:
#
# * `self.block1`: **one** convolution from 1 to 6 channels, an activation, a pooling that
#   halves the height and width (LeNet's: 2 x 2 with stride 2): `(N, 1, 28, 28) -> (N, 6, 14, 14)`;
# * `self.block2`: **one** convolution from 6 to 16 channels, an activation, a pooling that
#   halves the size again: `-> (N, 16, 5, 5)`;
# * `self.head`: flatten, then `nn.Linear(400, 120)`, an activation, `nn.Linear(120, 84)`,
#   an activation, `nn.Linear(84, 10)`, and nothing after the last layer: `-> (N, 10)` raw
#   scores.
#
# `forward(x)` returns `self.head(self.block2(self.block1(x)))`. The only layers with
# parameters are the two convolutions and the three linear layers, all with their biases
# (PyTorch's default).
#
# **Your choices**: the kernel sizes and paddings (any that give these shapes); the
# activation (any of PyTorch's: sigmoid as in 1998, tanh, ReLU or one of its relatives,
# as a layer or a function); average or max pooling; `nn.Sequential` or modules of your
# own with their own `forward`. The checks look at the shape after each part, count the
# convolutions, activations and poolings each part runs, and check that the parameters are
# registered, that every one of them gets a gradient, and that nothing follows the last
# linear layer.

# %% nbgrader={"grade": false, "grade_id": "LeNet", "locked": false, "schema_version": 3, "solution": true}
class LeNet(nn.Module):
    """A LeNet-5 for 28 x 28 single-channel images: two convolution blocks and a head."""

    def __init__(self):
        ### BEGIN SOLUTION
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
                                    nn.AvgPool2d(kernel_size=2, stride=2))
        self.block2 = nn.Sequential(nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
                                    nn.AvgPool2d(kernel_size=2, stride=2))
        self.head = nn.Sequential(nn.Flatten(),
                                  nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
                                  nn.Linear(120, 84), nn.Sigmoid(),
                                  nn.Linear(84, 10))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.head(self.block2(self.block1(x)))
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_LeNet", "locked": true, "points": 3, "schema_version": 3, "solution": false}
lenet_t = LeNet()
x_t = torch.rand(2, 1, 28, 28)
assert lenet_t.block1(x_t).shape == (2, 6, 14, 14), \
    f"block1 maps (2, 1, 28, 28) to (2, 6, 14, 14), got {tuple(lenet_t.block1(x_t).shape)}"
assert lenet_t.block2(lenet_t.block1(x_t)).shape == (2, 16, 5, 5), "block2's output is (2, 16, 5, 5)"
assert lenet_t(x_t).shape == (2, 10), "LeNet maps (2, 1, 28, 28) to (2, 10)"
check("ch07.LeNet", LeNet)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch07.LeNet", LeNet)
### END HIDDEN TESTS

# %% [markdown]
# Follow one image through your design, part by part, and count where the parameters are:
# most of them sit in the first linear layer, not in the convolutions.

# %%
with needs("LeNet"):
    lenet = LeNet()
    X = torch.rand(1, 1, 28, 28)
    print(f"{'input':8s} {str(tuple(X.shape)):18s}")
    for name in ("block1", "block2", "head"):
        part = getattr(lenet, name)
        X = part(X)
        n_params = sum(p.numel() for p in part.parameters())
        print(f"{name:8s} {str(tuple(X.shape)):18s} parameters {n_params}")
    for name, p in lenet.named_parameters():
        print(f"  {name:18s} {str(tuple(p.shape)):16s} {p.numel():6d}")

# %% [markdown]
# ## 9. AlexNet's shapes, on a Fashion-MNIST image made 224 x 224 (a demo, no training)
#
# AlexNet (2012) is the network that started the deep-learning boom: the same ingredients as
# LeNet, much bigger, with ReLU, max pooling and dropout, for 224 x 224 images. To feed it
# Fashion-MNIST's 28 x 28 pictures they must first grow. `transforms.v2.Resize(224)`
# interpolates an image up (or down) to 224 pixels a side, smoothly (`antialias=True`);
# `transforms.v2.CenterCrop(size)` keeps the middle `size x size` square, which is how an
# image larger than a network expects, or not square, is usually cut to size. Here is one
# test image through both:

# %%
from torchvision.transforms import v2

from autograder import CLASSES, fashion_mnist

images, labels = fashion_mnist(train=False, limit=1)
big = v2.Resize(224, antialias=True)(images[0])
middle = v2.CenterCrop(160)(big)
fig, ax = plt.subplots(1, 3, figsize=(9, 3))
for a_, im, title in zip(ax, (images[0], big, middle), ("28 x 28", "Resize(224)", "CenterCrop(160)")):
    a_.imshow(im[0], cmap="gray_r")
    a_.set_title(f"{title}: {tuple(im.shape)}")
    a_.axis("off")
fig.suptitle(f"a Fashion-MNIST test image ({CLASSES[int(labels[0])]})")
plt.tight_layout()
plt.show()

# %% [markdown]
# We only want AlexNet's shapes, so we build it on the **meta** device: a meta tensor has a
# shape and a dtype but no data, so the 46 million weights cost no memory and the forward
# pass no arithmetic, and yet every layer reports the shape it would produce. (One input
# channel, as for Fashion-MNIST.) The same trick is how the checks of this chapter see
# device mistakes without a GPU: a tensor made on the CPU cannot meet a meta tensor.

# %%
with torch.device("meta"):
    alexnet = nn.Sequential(
        nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2), nn.Flatten(),
        nn.Linear(6400, 4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(4096, 10))
X = big.unsqueeze(0).to("meta")           # the resized image, as a batch of one, without its values
for layer in alexnet:
    X = layer(X)
    print(f"{layer.__class__.__name__:10s} output {tuple(X.shape)}")
print(f"{sum(p.numel() for p in alexnet.parameters()):,} parameters")


# %% [markdown]
# ## 10. A normalisation layer by hand
#
# Deep networks train better when the inputs of each layer stay on a similar scale. A
# normalisation layer subtracts a mean and divides by a standard deviation, both computed
# over some dimension: over the **features of each example** (layer normalisation) or
# over the **batch, for each feature** (batch normalisation, which also keeps running
# statistics for evaluation; we leave that out). The variance is the *mean* of the squared
# deviations (dividing by $n$, not $n - 1$: `unbiased=False`), and a small `eps` inside the
# square root keeps a constant input from dividing by zero:
#
# $$z = \frac{X - \operatorname{mean}(X)}{\sqrt{\operatorname{var}(X) + \varepsilon}}, \qquad
#   y = \text{weight} \cdot z + \text{bias}$$
#
# The learned `weight` and `bias` (one per feature, starting at 1 and 0) let the network undo
# the normalisation where that helps. It is `CenteredLayer` plus a division and an affine
# map, and the choice of `dim` is all that distinguishes the two famous layers.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_11", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 10 · `Normalize(num_features, dim, eps=1e-5)` (2 points)
#
# A module for inputs `X` of shape `(N, num_features)`. It registers exactly two
# parameters, `self.weight` (initialised to ones) and `self.bias` (zeros), each of shape
# `(num_features,)`. `forward(X)` computes the mean and the variance (mean of squared
# deviations) of `X` over `dim` (`0`: each feature over the batch, as batch normalisation;
# `1`: each example over its features, as layer normalisation), then returns
# `weight * (X - mean) / sqrt(var + eps) + bias`, broadcast to `X`'s shape. How you compute
# the statistics is up to you; `X` must not be changed in place. The checks compare with
# PyTorch's `F.layer_norm` and `F.batch_norm`, gradients included.

# %% nbgrader={"grade": false, "grade_id": "Normalize", "locked": false, "schema_version": 3, "solution": true}
class Normalize(nn.Module):
    """(X - mean) / sqrt(var + eps) over `dim`, then a learned scale and shift per feature."""

    def __init__(self, num_features, dim, eps=1e-5):
        ### BEGIN SOLUTION
        super().__init__()
        self.dim, self.eps = dim, eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        ### END SOLUTION

    def forward(self, X):
        ### BEGIN SOLUTION
        mean = X.mean(dim=self.dim, keepdim=True)
        var = X.var(dim=self.dim, unbiased=False, keepdim=True)
        return self.weight * (X - mean) / torch.sqrt(var + self.eps) + self.bias
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_Normalize", "locked": true, "points": 2, "schema_version": 3, "solution": false}
norm_t = Normalize(2, dim=0)
shapes_t = {name: tuple(p.shape) for name, p in norm_t.named_parameters()}
assert shapes_t == {"weight": (2,), "bias": (2,)}, f"expected weight (2,) and bias (2,), got {shapes_t}"
# each column of [[1, 10], [3, 30]] has mean (2, 20) and variance (1, 100): z = [[-1, -1], [1, 1]]
out_t = norm_t(torch.tensor([[1.0, 10.0], [3.0, 30.0]]))
assert torch.allclose(out_t, torch.tensor([[-1.0, -1.0], [1.0, 1.0]]), atol=1e-4), \
    f"over dim 0, [[1, 10], [3, 30]] normalises to [[-1, -1], [1, 1]] (up to eps), got {out_t}"
check("ch07.Normalize", Normalize)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch07.Normalize", Normalize)
### END HIDDEN TESTS

# %% [markdown]
# The same layer with `dim=1` is layer normalisation and with `dim=0` batch normalisation;
# PyTorch's functions agree. After batch normalisation every feature has mean 0 and
# variance 1 over the batch (until `weight` and `bias` are trained away from 1 and 0).

# %%
with needs("Normalize"):
    Z = torch.randn(8, 5) * 3 + 2
    as_layer_norm = Normalize(5, dim=1)(Z)
    as_batch_norm = Normalize(5, dim=0)(Z)
    print("dim=1 matches F.layer_norm:", torch.allclose(as_layer_norm, F.layer_norm(Z, (5,)), atol=1e-5))
    print("dim=0 matches F.batch_norm:", torch.allclose(
        as_batch_norm, F.batch_norm(Z, None, None, training=True), atol=1e-5))
    print("per-feature means after dim=0:    ", as_batch_norm.mean(0).detach().numpy().round(4))
    print("per-feature variances after dim=0:", as_batch_norm.var(0, unbiased=False).detach().numpy().round(4))

# %% [markdown]
# ## Check all your answers at once

# %%
check_chapter("ch07", globals());

# %% [markdown]
# ## What you can do now
#
# Any computation can be a module: write `__init__` to create and register its state,
# `forward` to use it, and let autograd do the backward pass, however dynamic the forward.
# Keep parameters where the module can see them (attributes, `ParameterList`,
# `ParameterDict`, `ModuleList`), and a layer used several times collects the sum of its
# gradients. With convolution and pooling understood from the inside, the next chapters use
# PyTorch's fast built-in versions (`nn.Conv2d`, `nn.MaxPool2d`) to train such networks.
