# %% [markdown]
# # Chapter 04 · Custom autograd Functions
#
# In chapter 03 autograd computed every gradient for us. It could, because every operation
# we used (`@`, `relu`, `pow`, `sum`) is a **primitive** that PyTorch knows two things
# about: how to compute its result (the *forward*), and how to turn the gradient of the
# result into the gradient of its inputs (the *backward*). Autograd itself knows no
# calculus at all: it only records which primitives ran, and calls their backward
# functions in reverse order, exactly as you did by hand in chapter 01.
#
# This chapter shows how to add your own primitive with `torch.autograd.Function`. You
# would do that when an operation has a derivative that is cheaper, more stable or simply
# different from what autograd would derive from its pieces (a fused kernel, a clipped
# gradient, a function computed outside PyTorch). Along the way you will see what
# autograd really stores and why.
#
# You will write:
#
# 1. `MyReLU`: the ReLU of chapter 01, as a Function,
# 2. `MySigmoid`: a Function that saves its **output**, not its input,
# 3. `LegendreP3`: the Legendre polynomial $P_3(x) = \frac{1}{2}(5x^3 - 3x)$,
# 4. `MyLinear`: a linear layer with an optional bias that skips the gradients nobody needs,
# 5. `train_with_myrelu`: the two-layer net of the earlier chapters, with your ReLU inside it.
#
# The checks of this chapter compare your Functions with PyTorch's built-ins (values and
# gradients), run `torch.autograd.gradcheck`, and call your `forward` and `backward`
# directly, the way autograd does.

# %% nbgrader={"grade": false, "grade_id": "locked_01", "locked": true, "schema_version": 3, "solution": false}
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch.autograd import Function

from autograder import check, check_chapter, default_device, needs, pick
from autograder import loss_curve, progress

torch.set_printoptions(precision=4, sci_mode=False)
device = default_device()   # "cuda" when a GPU is present, else "cpu"
print("training demos run on", device)


# %% [markdown]
# ## 1. Anatomy of a Function
#
# A custom Function is a class with two **static** methods:
#
# * `forward(ctx, *inputs)` computes the result from the inputs. It runs with autograd
#   switched off: whatever it does inside is *not* recorded. It may stash what the backward
#   will need on `ctx`, the context object: tensors go through `ctx.save_for_backward(...)`,
#   anything else (a flag, a shape) can be an attribute like `ctx.alpha = 0.5`.
# * `backward(ctx, grad_output)` receives $\partial L/\partial y$, the gradient of the final
#   loss with respect to this Function's output, and returns $\partial L/\partial x$ for
#   each input of `forward`, in the same order. By the chain rule that is
#   $\partial L/\partial x = \partial L/\partial y \cdot \partial y/\partial x$: the local
#   derivative times `grad_output`. The saved tensors come back as `ctx.saved_tensors`.
#
# You never call these methods yourself: you call `MyFunction.apply(x)`. `apply` runs
# `forward`, then attaches a node to the graph whose backward is yours. Here is the whole
# pattern for $y = e^x$, whose derivative is $e^x = y$ itself, so we save the output:

# %%
class MyExp(Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)        # backward needs e^x: that is the output
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return grad_output * y          # chain rule: dL/dx = dL/dy * dy/dx


x_demo = torch.tensor([0.0, 1.0, -2.0], requires_grad=True)
y_demo = MyExp.apply(x_demo)
print("y       =", y_demo)
print("grad_fn =", y_demo.grad_fn)     # our backward, as a node of the graph
y_demo.sum().backward()                 # dL/dy = 1 for a sum
print("x.grad  =", x_demo.grad, "(equal to y, as it should be)")

# %% [markdown]
# (Older code, including early versions of PyTorch's own tutorials, writes Functions with
# ordinary methods, `def forward(self, input)`, calls them as `MyReLU()(x)`, and wraps
# tensors in `torch.autograd.Variable`. That style is gone: since PyTorch 0.4 every tensor
# can require a gradient, so `Variable(t)` simply returns `t`, and a Function must have
# static methods and be called through `.apply`. A newer variant splits forward into
# `forward(x)` and `setup_context(ctx, inputs, output)`, which `torch.func`'s transforms
# need; this chapter uses the classic `forward(ctx, ...)`, which the checks call directly.)
#
# Two rules follow from "autograd does not record forward and backward":
#
# * `backward` must compute the gradient with plain tensor operations from what was saved.
#   It must not call `torch.autograd.grad` or `.backward()`: there is no graph inside a
#   Function to differentiate, and backward *is* the derivative.
# * The output of `backward` must match the inputs of `forward`: one gradient per input,
#   each of the input's shape, or `None` for an input that has no gradient (an integer, a
#   flag, a tensor that does not require grad).

# %% [markdown]
# ## 2. How do we know a backward is right? `gradcheck`
#
# The finite-difference check of chapter 01 is built into PyTorch:
# `torch.autograd.gradcheck(f, inputs)` nudges every input entry by $\pm\varepsilon$,
# measures the change of every output entry, and compares this numerical Jacobian with
# the one your backward implies. It must run in **float64**: with float32's 7 significant
# digits, the difference $f(x + \varepsilon) - f(x - \varepsilon)$ for a tiny $\varepsilon$
# is mostly rounding noise. See for yourself:

# %%
for dtype in (torch.float32, torch.float64):
    x0 = torch.tensor(0.7, dtype=dtype)
    for eps in (1e-2, 1e-4, 1e-6):
        numeric = (torch.exp(x0 + eps) - torch.exp(x0 - eps)) / (2 * eps)
        print(f"{str(dtype):14} eps={eps:g}: error of the numerical derivative "
              f"{abs(float(numeric) - math.exp(0.7)):.2e}")

# %% [markdown]
# In float32 the error *grows* as $\varepsilon$ shrinks; in float64 it falls to about
# $10^{-10}$. So: check in float64, then use your Function in any dtype.

# %%
x64 = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
print("MyExp passes gradcheck:", torch.autograd.gradcheck(MyExp.apply, (x64,)))


class BrokenExp(MyExp):
    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return y                        # forgot to multiply by grad_output


print("BrokenExp passes gradcheck:",
      torch.autograd.gradcheck(BrokenExp.apply, (x64,), raise_exception=False))


# %% [markdown]
# ## 3. ReLU as a Function
#
# ReLU, $y = \max(x, 0)$, lets the gradient through where the input was positive and
# blocks it elsewhere (chapter 01's mask). Its backward therefore needs to know *where the
# input was positive*: save the input (saving the output would work as well, since
# $y > 0$ exactly where $x > 0$).
#
# What about $x = 0$ exactly? ReLU has a kink there and no derivative: any slope between
# 0 and 1 is a valid choice (a *subgradient*). PyTorch's `torch.relu` uses 0, and so will
# we: the gradient flows only where $x > 0$. Finite differences, and so `gradcheck`, cannot
# tell the choices apart (a step of $\pm\varepsilon$ around a kink measures the average
# slope, 1/2), which is why gradcheck is run away from 0 and the rule at 0 is checked on
# its own. Exact zeros are common in practice: the input of a second ReLU is often
# exactly 0.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_02", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 1 · `MyReLU` (2 points)
#
# Write `forward(ctx, x)` returning `max(x, 0)` element-wise (e.g. `x.clamp(min=0)`) and
# saving what backward needs with `ctx.save_for_backward`, and `backward(ctx, grad_output)`
# returning the gradient with respect to `x`: `grad_output` where `x > 0`, zero elsewhere
# (**zero at `x = 0` too**, as `torch.relu`).
#
# * Keep the dtype and device of `x`: create any new tensor with `torch.zeros_like(x)` or
#   `device=x.device` (the checks run with a default device that is not the input's, so a
#   tensor made without `device=` shows up even on a machine without a GPU).
# * Do not change `x` in place (no `clamp_`, no `x[...] = ...`): return a new tensor.
# * No autograd calls inside `backward` (`torch.autograd.grad`, `.backward()`,
#   `torch.enable_grad()`, ...): the checks also call your `forward` and `backward` directly
#   under `torch.no_grad()`, as autograd does.

# %% nbgrader={"grade": false, "grade_id": "MyReLU", "locked": false, "schema_version": 3, "solution": true}
class MyReLU(Function):
    """ReLU with a hand-written backward."""

    @staticmethod
    def forward(ctx, x):
        ### BEGIN SOLUTION
        ctx.save_for_backward(x)
        return x.clamp(min=0)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION
        (x,) = ctx.saved_tensors
        grad_x = grad_output.clone()
        grad_x[x <= 0] = 0           # no gradient where the input was negative, nor at 0
        return grad_x
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_MyReLU", "locked": true, "points": 2, "schema_version": 3, "solution": false}
x_t = torch.tensor([-2.0, -0.5, 0.0, 0.5, 3.0], requires_grad=True)
y_t = MyReLU.apply(x_t)
assert torch.equal(y_t.detach(), torch.tensor([0.0, 0.0, 0.0, 0.5, 3.0])), f"forward: got {y_t}"
y_t.backward(torch.tensor([10.0, 20.0, 25.0, 30.0, 40.0]))
assert torch.equal(x_t.grad, torch.tensor([0.0, 0.0, 0.0, 30.0, 40.0])), \
    f"backward should pass grad_output where x > 0 and block it elsewhere (also at 0); got {x_t.grad}"
x64_t = torch.tensor([[-1.5, 0.3], [2.0, -0.2]], dtype=torch.float64, requires_grad=True)
assert torch.autograd.gradcheck(MyReLU.apply, (x64_t,)), "gradcheck fails"
check("ch04.MyReLU", MyReLU)          # the grader's own check: random inputs, float64, x = 0, ...
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch04.MyReLU", MyReLU)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Saving the output: the sigmoid
#
# The logistic sigmoid $y = \sigma(x) = 1 / (1 + e^{-x})$ has a neat derivative:
#
# $$\frac{dy}{dx} = \frac{e^{-x}}{(1 + e^{-x})^2} = y\,(1 - y)$$
#
# It is written with the **output** alone. So a sigmoid should save $y$, not $x$: backward
# then costs one multiplication instead of another exponential, and in a network the
# output is usually kept anyway (the next layer needs it), so saving it costs no memory.
# PyTorch's own `torch.sigmoid` does exactly this. Have a look at the two curves:

# %%
z = torch.linspace(-6, 6, 241)
s = torch.sigmoid(z)
fig, ax = plt.subplots(1, 2, figsize=(8, 2.8))
ax[0].plot(z, s)
ax[0].set_title("sigmoid(z)")
ax[1].plot(z, s * (1 - s))
ax[1].set_title("its derivative y (1 - y): at most 1/4")
for a in ax:
    a.grid(True, alpha=0.3)
plt.tight_layout()
plt.show()


# %% [markdown]
# The derivative is at most $1/4$ and almost 0 for $|x| > 5$: gradients that pass through
# many sigmoids shrink, one reason why ReLU replaced it inside deep networks.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_03", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 2 · `MySigmoid` (2 points)
#
# `forward(ctx, x)` returns $\sigma(x)$ (compute it yourself from `torch.exp`, or with
# `torch.sigmoid`) and saves **its output** with `ctx.save_for_backward`, nothing else
# (exactly one saved tensor); `backward(ctx, grad_output)` returns the gradient with respect
# to `x` using the saved output only. The rules of exercise 1 hold for every Function of
# this chapter: keep the dtype and device of the input, do not change it in place, no
# autograd calls inside `backward`.

# %% nbgrader={"grade": false, "grade_id": "MySigmoid", "locked": false, "schema_version": 3, "solution": true}
class MySigmoid(Function):
    """Logistic sigmoid that saves its output for backward."""

    @staticmethod
    def forward(ctx, x):
        ### BEGIN SOLUTION
        y = 1 / (1 + torch.exp(-x))
        ctx.save_for_backward(y)
        return y
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION
        (y,) = ctx.saved_tensors
        return grad_output * y * (1 - y)
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_MySigmoid", "locked": true, "points": 2, "schema_version": 3, "solution": false}
x_t = torch.tensor([0.0, 2.0, -1.0], requires_grad=True)
y_t = MySigmoid.apply(x_t)
assert torch.allclose(y_t, torch.sigmoid(x_t.detach())), f"forward: got {y_t}"
saved_t = y_t.grad_fn.saved_tensors
assert len(saved_t) == 1 and torch.allclose(saved_t[0], y_t.detach()), \
    "save exactly one tensor, the output y, with ctx.save_for_backward(y)"
y_t.backward(torch.ones(3))
assert torch.allclose(x_t.grad[0], torch.tensor(0.25)), f"sigma'(0) = 1/4, got {x_t.grad[0]}"
check("ch04.MySigmoid", MySigmoid)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch04.MySigmoid", MySigmoid)
### END HIDDEN TESTS

# %% [markdown]
# ## 5. A polynomial primitive: the Legendre polynomial $P_3$
#
# Autograd could differentiate $P_3(x) = \frac{1}{2}(5x^3 - 3x)$ from its pieces (`pow`,
# `mul`, `sub`), recording four nodes and saving intermediate tensors for each. As one
# Function it is one node, saving only $x$, with the derivative you work out on paper:
#
# $$P_3'(x) = \tfrac{1}{2}(15x^2 - 3) = \tfrac{3}{2}(5x^2 - 1)$$
#
# Legendre polynomials are orthogonal on $[-1, 1]$, which makes them good building blocks
# for approximating functions there; below we use $P_3$ to fit a sine.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_04", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 3 · `LegendreP3` (2 points)
#
# `forward(ctx, x)` returns $P_3(x)$ element-wise; `backward(ctx, grad_output)` returns
# `grad_output` times $P_3'(x)$. (Same rules as exercise 1: dtype and device kept, input
# untouched, no autograd inside `backward`.)

# %% nbgrader={"grade": false, "grade_id": "LegendreP3", "locked": false, "schema_version": 3, "solution": true}
class LegendreP3(Function):
    """P3(x) = (5 x^3 - 3 x) / 2 as one primitive."""

    @staticmethod
    def forward(ctx, x):
        ### BEGIN SOLUTION
        ctx.save_for_backward(x)
        return 0.5 * (5 * x ** 3 - 3 * x)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION
        (x,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * x ** 2 - 1)
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_LegendreP3", "locked": true, "points": 2, "schema_version": 3, "solution": false}
x_t = torch.tensor([-1.0, 0.0, 1.0, 2.0], requires_grad=True)
y_t = LegendreP3.apply(x_t)
assert torch.allclose(y_t, torch.tensor([-1.0, 0.0, 1.0, 17.0])), \
    f"P3(-1), P3(0), P3(1), P3(2) are -1, 0, 1, 17; got {y_t}"
y_t.backward(torch.ones(4))
assert torch.allclose(x_t.grad, torch.tensor([6.0, -1.5, 6.0, 28.5])), \
    f"P3'(x) = 1.5 (5x^2 - 1) gives 6, -1.5, 6, 28.5; got {x_t.grad}"
check("ch04.LegendreP3", LegendreP3)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch04.LegendreP3", LegendreP3)
### END HIDDEN TESTS

# %% [markdown]
# **Your Function in a model.** We fit $\sin x$ on $[-\pi, \pi]$ with
# $\hat y = a + b\,P_3(c + d\,x)$: four numbers, learned by gradient descent on the sum of
# squared errors. Autograd chains your backward with the gradients of the `+` and `*`
# around it. (Starting from $c = 0$, $d = 0.3$ keeps $c + dx$ inside $[-1, 1]$, where
# $P_3$ looks like a sine wave.)

# %%
xs = torch.linspace(-math.pi, math.pi, 1000)
ys = torch.sin(xs)
a, b, c, d = (torch.tensor(v, requires_grad=True) for v in (0.0, -1.0, 0.0, 0.3))
fit_lr, fit_losses = 2e-5, []
with needs("LegendreP3"):
    for step in progress(range(pick(full=3000, quick=300)), desc="fitting sin"):
        y_hat = a + b * LegendreP3.apply(c + d * xs)
        loss = (y_hat - ys).pow(2).sum()
        fit_losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            for p in (a, b, c, d):
                p -= fit_lr * p.grad
                p.grad = None
    print(f"y = {a.item():.3f} + {b.item():.3f} * P3({c.item():.3f} + {d.item():.3f} x)")
    fig, ax = plt.subplots(1, 2, figsize=(9, 3))
    loss_curve(fit_losses, title="fitting sin with P3", ax=ax[0])
    ax[1].plot(xs, ys, label="sin x")
    ax[1].plot(xs, y_hat.detach(), label="a + b P3(c + d x)")
    ax[1].legend()
    plt.tight_layout()
    plt.show()


# %% [markdown]
# ## 6. Several inputs, and the gradients nobody needs
#
# A linear layer computes $y = x\,W^\top + b$ for a batch $x$ of shape `(N, D_in)`, a
# weight $W$ of shape `(D_out, D_in)` (PyTorch's layout: one row per output) and an
# optional bias $b$ of shape `(D_out,)`. This is `F.linear(x, W, b)`. Its backward returns
# three gradients, read off with chapter 01's rule "let the shapes guide you":
#
# | input | shape | gradient |
# |---|---|---|
# | $x$ | `(N, D_in)` | `grad_output @ W`, shape `(N, D_out) @ (D_out, D_in)` |
# | $W$ | `(D_out, D_in)` | `grad_output.T @ x`, a sum over the batch |
# | $b$ | `(D_out,)` | `grad_output.sum(0)`: $b$ was added to every row |
#
# Often not all of them are wanted: the input of the first layer is data, which needs no
# gradient; a frozen layer needs none for its weight. `ctx.needs_input_grad` is a tuple of
# booleans, one per input of `forward`, that says which gradients autograd will use.
# Computing the others wastes time (here a whole matrix product), so a good backward
# returns `None` for them. Let us look at the flags:

# %%
class ShowNeeds(Function):
    @staticmethod
    def forward(ctx, x, w):
        return x @ w.T

    @staticmethod
    def backward(ctx, grad_output):
        print("needs_input_grad =", ctx.needs_input_grad)
        return None, None


data = torch.randn(3, 4)                       # data: no gradient wanted
weight = torch.randn(2, 4, requires_grad=True)
ShowNeeds.apply(data, weight).sum().backward()


# %% [markdown]
# The bias is optional: `forward(ctx, x, weight, bias=None)`. When it is `None`, the
# gradient returned in its place must be `None` too (autograd checks that there is no
# gradient for an input that is not a tensor). `ctx.save_for_backward` accepts `None`, so
# you can save `(x, weight, bias)` in every case.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_05", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 4 · `MyLinear` (3 points)
#
# Write `forward(ctx, x, weight, bias=None)` returning `x @ weight.T + bias` (no bias term
# when `bias` is None), like `F.linear`, for `x` of shape `(N, D_in)`; and
# `backward(ctx, grad_output)` returning `(grad_x, grad_weight, grad_bias)`, where each is
# computed only if `ctx.needs_input_grad` asks for it and is `None` otherwise (`grad_bias`
# is also `None` when there is no bias). Returning two gradients when there is no bias is
# fine too. Same rules as exercise 1 (dtype and device kept, no autograd in `backward`).

# %% nbgrader={"grade": false, "grade_id": "MyLinear", "locked": false, "schema_version": 3, "solution": true}
class MyLinear(Function):
    """y = x @ weight.T + bias, with a backward that skips unneeded gradients."""

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        ### BEGIN SOLUTION
        ctx.save_for_backward(x, weight, bias)
        y = x @ weight.T
        if bias is not None:
            y = y + bias
        return y
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION
        x, weight, bias = ctx.saved_tensors
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_output @ weight
        if ctx.needs_input_grad[1]:
            grad_weight = grad_output.T @ x
        if bias is not None and ctx.needs_input_grad[2]:
            grad_bias = grad_output.sum(0)
        return grad_x, grad_weight, grad_bias
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_MyLinear", "locked": true, "points": 3, "schema_version": 3, "solution": false}
x_t = torch.tensor([[1.0, 2.0, 3.0]])
w_t = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], requires_grad=True)
b_t = torch.tensor([10.0, 20.0], requires_grad=True)
y_t = MyLinear.apply(x_t, w_t, b_t)
assert y_t.shape == (1, 2), f"y must have shape (N, D_out) = (1, 2), got {tuple(y_t.shape)}"
assert torch.allclose(y_t, torch.tensor([[11.0, 25.0]])), f"y should be [[11, 25]], got {y_t}"
y_t.backward(torch.tensor([[1.0, 2.0]]))
assert x_t.grad is None, "x does not require grad, so it must not get one"
assert torch.allclose(w_t.grad, torch.tensor([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]])), \
    f"grad_weight = grad_output.T @ x; got {w_t.grad}"
assert torch.allclose(b_t.grad, torch.tensor([1.0, 2.0])), f"grad_bias: got {b_t.grad}"
assert MyLinear.apply(x_t, w_t).shape == (1, 2), "bias must be optional"
check("ch04.MyLinear", MyLinear)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch04.MyLinear", MyLinear)
### END HIDDEN TESTS

# %% [markdown]
# ## 7. Your Function inside a network
#
# A Function you wrote is used like any built-in operation: `MyReLU.apply(x @ w1)` is one
# more node in the graph, and `loss.backward()` calls *your* backward in the middle of the
# chain, between the gradients of the two matrix products that autograd derives itself.
#
# You wrote the training loop of the two-layer net in chapter 03; here it is once more, as
# a helper (it is given, and it is not what this exercise is about). `descend` takes a
# function that computes the loss from the current parameters, and the list of those
# parameters; it runs `steps` steps of gradient descent on them, in place, and returns the
# loss of every step (recorded before its update).

# %% nbgrader={"grade": false, "grade_id": "locked_06", "locked": true, "schema_version": 3, "solution": false}
def descend(loss_fn, params, lr, steps):
    """Gradient descent (the loop of chapter 03): `steps` times, loss = loss_fn(),
    loss.backward(), then p -= lr * p.grad for every p in `params`, in place. Returns the
    list of the losses, each recorded before its update, as Python floats."""
    losses = []
    for _ in range(steps):
        loss = loss_fn()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad = None
    return losses


# %% [markdown]
# Before the exercise, let us watch autograd call a Function's backward. A *hook* on a
# tensor runs when the gradient with respect to that tensor is computed; here it prints
# which node of the graph produced it. `MyExp` from section 1 stands in the middle:

# %%
w_demo = torch.tensor([0.5, -1.0], requires_grad=True)
h_demo = w_demo * 2
h_demo.register_hook(lambda g: print("gradient w.r.t. the input of MyExp:", g))
out_demo = MyExp.apply(h_demo).sum()
print("graph: ", out_demo.grad_fn, "<-", out_demo.grad_fn.next_functions[0][0],
      "<-", out_demo.grad_fn.next_functions[0][0].next_functions[0][0])
out_demo.backward()
print("w.grad:", w_demo.grad, "= 2 exp(2w)")


# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_07", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 5 · `train_with_myrelu(x, y, w1, w2, lr, steps)` (2 points)
#
# The network is chapter 01's: `y_pred = relu(x @ w1) @ w2`, trained on the sum of squared
# errors `((y_pred - y) ** 2).sum()`. Your part is the model: compute the hidden layer with
# **your** `MyReLU.apply`, so that your forward runs in every forward pass and your
# backward in every `backward()`. `w1` and `w2` are leaf tensors with `requires_grad=True`.
#
# * Run `steps` steps of gradient descent with learning rate `lr` on `w1` and `w2`: the
#   simplest is to write the loss as a function of the weights and hand it to `descend`
#   (your own loop is fine too, as long as it computes the same steps).
# * Every step's forward pass goes through `MyReLU.apply` (directly, through a helper
#   function or an alias such as `my_relu = MyReLU.apply`; not `torch.relu` or `clamp`), and
#   the gradients come from autograd (`loss.backward()`), so your backward runs every step.
# * Return `(w1, w2, losses)`: the trained weights (updated in place, or new tensors) and
#   the list of the `steps` losses, each recorded *before* its update, as Python floats.
# * Do not modify `x` and `y`.
#
# The checks replace your `MyReLU` by PyTorch's relu while they grade this exercise (so a
# mistake in exercise 1 is not counted twice here) and count how often its forward and
# backward run.

# %% nbgrader={"grade": false, "grade_id": "train_with_myrelu", "locked": false, "schema_version": 3, "solution": true}
def train_with_myrelu(x, y, w1, w2, lr, steps):
    """Gradient descent for the two-layer net whose hidden layer is MyReLU."""
    ### BEGIN SOLUTION
    def loss_fn():
        y_pred = MyReLU.apply(x @ w1) @ w2
        return (y_pred - y).pow(2).sum()

    losses = descend(loss_fn, [w1, w2], lr, steps)
    ### END SOLUTION
    return w1, w2, losses


# %% nbgrader={"grade": true, "grade_id": "test_train_with_myrelu", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# A tiny example of what is graded, computed here with PyTorch's relu: the first loss is
# that of the weights you are given, and each step lowers it for a small learning rate.
# (This cell does not run your MyReLU: the check below grades the training with a stand-in.)
gen = torch.Generator().manual_seed(0)
x_s, y_s = torch.randn(6, 5, generator=gen), torch.randn(6, 2, generator=gen)
w1_s, w2_s = torch.randn(5, 4, generator=gen), torch.randn(4, 2, generator=gen)
print("losses[0] for these weights:", ((torch.relu(x_s @ w1_s) @ w2_s - y_s) ** 2).sum().item())
check("ch04.train_with_myrelu", train_with_myrelu)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch04.train_with_myrelu", train_with_myrelu)
### END HIDDEN TESTS

# %% [markdown]
# Now train the classic net on the chosen device and watch the loss. The data and weights
# are created directly on `device`; your `MyReLU` runs there too, as long as its forward
# and backward use tensor operations only.

# %%
N, D_in, H, D_out = 64, 1000, 100, 10
torch.manual_seed(0)
x = torch.randn(N, D_in, device=device)
y = torch.randn(N, D_out, device=device)
w1 = torch.randn(D_in, H, device=device, requires_grad=True)
w2 = torch.randn(H, D_out, device=device, requires_grad=True)

learning_rate = 1e-6
rounds = pick(full=10, quick=2)
history = []
with needs("MyReLU", "train_with_myrelu"):
    for _ in progress(range(rounds), desc="training"):
        w1, w2, losses = train_with_myrelu(x, y, w1, w2, learning_rate, steps=50)
        history += losses
    print(f"loss: {history[0]:.4g} at the start, {history[-1]:.4g} after {len(history)} steps")
    loss_curve(history, title="Two-layer net with MyReLU")
    plt.show()

# %% [markdown]
# ## Check all your answers at once

# %%
check_chapter("ch04", globals());

# %% [markdown]
# ## What to remember
#
# * A primitive is a pair: a forward that computes, a backward that maps `grad_output` to
#   one gradient per input. Autograd only chains primitives together.
# * Save with `ctx.save_for_backward` exactly what backward needs, the output when the
#   derivative is written with it (sigmoid, exp, tanh).
# * Return `None` for what `ctx.needs_input_grad` says nobody needs.
# * Check every backward with `torch.autograd.gradcheck` in float64 before trusting it.
#
# Next, chapter 05 stops writing layers by hand: `nn.Linear` is the `MyLinear` you just
# wrote, with its parameters kept inside a module.
