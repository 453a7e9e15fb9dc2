# %% [markdown]
# # Chapter 03 · Autograd: the graph PyTorch builds while you compute
#
# In chapter 01 you wrote `backward` by hand: you kept `h` and `h_relu` around, walked the
# forward pass in reverse and multiplied local derivatives in the right order. That
# bookkeeping is mechanical, so PyTorch does it for you. Every operation on a tensor that
# *requires grad* is recorded in a graph; `loss.backward()` walks that graph backwards and
# applies the chain rule, exactly as you did.
#
# This chapter is about that graph: what is in it, when it is built, what `backward()` leaves
# behind, and the handful of mistakes everybody makes once (updating a parameter while the
# graph is being recorded, re-assigning a parameter, forgetting that gradients add up).
#
# You will write:
#
# 1. `grad_of(f, x)`: the gradient of a scalar function at a point, without disturbing the caller's tensor,
# 2. `jacobian_rows(f, x)`: the Jacobian of a vector function, one row per backward pass,
# 3. `fixed_update_loop(x, y, w, b, lr, steps)`: the update step of a training loop, with its
#    three classic autograd bugs fixed,
# 4. `autograd_two_layer_train(x, y, w1, w2, lr, steps)`: chapter 01's network with autograd doing the backward pass.
#
# The checks compare your results with PyTorch's own `torch.func` transforms and with
# gradients derived by hand, and they look at what your function did to the tensors it was
# given (their values, `requires_grad` and `.grad`). Each test cell runs them, and
# `check_chapter("ch03", globals())` at the end runs them all.

# %% nbgrader={"grade": false, "grade_id": "locked_01", "locked": true, "schema_version": 3, "solution": false}
import warnings

import matplotlib.pyplot as plt
import torch

from autograder import check, check_chapter, default_device, needs, pick
from autograder import loss_curve, progress

torch.manual_seed(0)
torch.set_printoptions(precision=4, sci_mode=False)
# float(loss) on a tensor that requires grad is a fine way to log a number, but recent PyTorch
# versions warn about it, and nbgrader counts any warning in a graded cell as a failure.
warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad=True to a scalar")

# %% [markdown]
# ## 1. Leaves, non-leaves and `grad_fn`
#
# A tensor created by you (with `torch.tensor`, `torch.randn`, ...) is a **leaf**: nothing
# computed it. If you ask for `requires_grad=True`, autograd starts recording every
# operation that uses it. The result of such an operation is a **non-leaf**: it remembers
# the operation that made it in `grad_fn`, and `grad_fn.next_functions` points further back
# towards the leaves. That chain of `grad_fn`s *is* the graph.
#
# Why the distinction? Leaves are what you want gradients *for* (the parameters);
# non-leaves are intermediate values, which autograd only needs while it walks backwards.
#
# *A note on old code.* Tutorials written before PyTorch 0.4 (2018) wrap tensors in
# `torch.autograd.Variable(t, requires_grad=True)` to make autograd record them. Today a
# `Variable` is just a tensor: `requires_grad` is a flag of every tensor (an argument of
# `torch.tensor`, `torch.randn`..., or `t.requires_grad_()`), and `Variable(t)` merely
# returns `t`. Write tensors; the old name survives only in some error messages ("a leaf
# Variable that requires grad", in section 7).

# %%
a = torch.tensor(2.0, requires_grad=True)   # a leaf we want a gradient for
b = a * 3                                     # non-leaf: made by a multiplication
c = b ** 2                                    # non-leaf: made by a power

for name, t in [("a", a), ("b", b), ("c", c)]:
    print(f"{name}: is_leaf={t.is_leaf!s:5}  requires_grad={t.requires_grad!s:5}  grad_fn={t.grad_fn}")
print("one step back from c:", c.grad_fn.next_functions)

# %% [markdown]
# `backward()` walks from `c` back to every leaf that requires grad and stores
# $\partial c / \partial \text{leaf}$ in the leaf's `.grad`. Here $c = (3a)^2 = 9a^2$, so
# $\partial c/\partial a = 18a = 36$.
#
# Non-leaves get no `.grad` (keeping every intermediate gradient would waste memory), unless
# you ask for it *before* the backward pass with `retain_grad()`:

# %%
a = torch.tensor(2.0, requires_grad=True)
b = a * 3
b.retain_grad()          # keep dc/db too, although b is not a leaf
c = b ** 2
c.backward()
print("dc/da =", a.grad, "  (18 a = 36)")
print("dc/db =", b.grad, "  (2 b = 12, kept because of retain_grad)")

# %% [markdown]
# ## 2. Seeing the graph
#
# `torchviz.make_dot` draws the graph behind a tensor: grey boxes are `grad_fn`s (the
# backward of each operation), blue boxes are the leaves that will receive a gradient
# (named by the `params` you pass), the green box is the tensor you started from. Here is
# the loss of chapter 01's two-layer net on a tiny batch. Read it from the bottom (the loss)
# upwards: it is the table of section 4 of chapter 01, drawn by PyTorch.

# %%
from torchviz import make_dot

x_s, y_s = torch.randn(4, 5), torch.randn(4, 3)
w1_s = torch.randn(5, 6, requires_grad=True)
w2_s = torch.randn(6, 3, requires_grad=True)
loss_s = (torch.relu(x_s @ w1_s) @ w2_s - y_s).pow(2).sum()
make_dot(loss_s, params={"w1": w1_s, "w2": w2_s})

# %% [markdown]
# Now freeze the first layer: `w1` does not require grad (this is how you keep part of a
# network fixed while training the rest). Autograd records only what leads to a tensor that
# requires grad, so the whole branch of `x @ w1` is gone: it is just a constant input to
# the second layer. Less graph means less memory and a faster backward pass.

# %%
w1_frozen = w1_s.detach()          # same numbers, requires_grad=False
loss_frozen = (torch.relu(x_s @ w1_frozen) @ w2_s - y_s).pow(2).sum()
print("w1_frozen.requires_grad:", w1_frozen.requires_grad)
make_dot(loss_frozen, params={"w2": w2_s})

# %% [markdown]
# The graph is built **while the Python code runs**, one operation at a time. So ordinary
# Python `if`s and `for`s shape it: the function below takes one branch or the other
# depending on the data, and repeats a layer a data-dependent number of times. Two calls with
# different inputs give two different graphs, and `backward()` follows whichever graph the
# call built. (This is what "dynamic graph" means; section 8 contrasts it with a static one.)

# %%
from IPython.display import display


def bumpy(x, w):
    h = x @ w
    if h.sum() > 0:                       # the branch depends on the data
        h = torch.relu(h)
    else:
        h = torch.tanh(h)
    for _ in range(int(x.abs().sum()) % 3 + 1):   # so does the number of repeats
        h = h * w.sum()
    return h.sum()


w_b = torch.randn(3, 2, requires_grad=True)
for x_b in (torch.ones(1, 3), torch.full((1, 3), -0.5)):
    out = bumpy(x_b, w_b)
    print(f"input {x_b.tolist()}: {'relu' if (x_b @ w_b).sum() > 0 else 'tanh'} branch, "
          f"{int(x_b.abs().sum()) % 3 + 1} repeat(s)")
    display(make_dot(out, params={"w": w_b}))

# %% [markdown]
# ## 3. Gradients add up: accumulation and zeroing
#
# `backward()` does not *write* `.grad`, it **adds** to it. Run the same backward twice and
# you get twice the gradient:

# %%
w = torch.tensor([1.0, -2.0], requires_grad=True)
for i in range(3):
    (w ** 2).sum().backward()           # d/dw sum(w^2) = 2 w = [2, -4]
    print(f"after backward #{i + 1}: w.grad = {w.grad}")
w.grad.zero_()                          # start afresh (or: w.grad = None)
print("after w.grad.zero_():  w.grad =", w.grad)

# %% [markdown]
# Why would anyone want that? Because it lets one gradient be collected from several
# pieces: a batch too big for memory can be processed in slices, each slice calling
# `backward()`, and the sum is the gradient of the whole batch. The price: in an ordinary
# training loop you must clear `.grad` after each update, or every step uses the sum of all
# gradients so far. This is the most common autograd bug there is.
#
# ## 4. Switching the recording off: `no_grad`, `detach`, `set_grad_enabled`
#
# Recording costs memory and time, and sometimes it is plainly wrong: the update of a
# parameter, `w - lr * w.grad`, is not part of the model, so it must not become part of the
# graph. Three tools switch recording off:
#
# * `with torch.no_grad():` nothing computed inside is recorded (updates, evaluation);
# * `t.detach()` is a new tensor sharing `t`'s numbers but cut off from the graph
#   (a constant from now on);
# * `torch.set_grad_enabled(flag)` is `no_grad` with a switch, handy for code that runs both
#   for training (`True`) and evaluation (`False`); `torch.enable_grad()` switches recording
#   back **on** inside a `no_grad` region.

# %%
w = torch.randn(3, requires_grad=True)
with torch.no_grad():
    print("inside no_grad:          ", (w * 2).requires_grad)
print("detached:                ", (w.detach() * 2).requires_grad)
for training in (True, False):
    with torch.set_grad_enabled(training):
        print(f"set_grad_enabled({training!s:5}):  ", (w * 2).requires_grad)
with torch.no_grad():
    with torch.enable_grad():
        print("enable_grad in no_grad:  ", (w * 2).requires_grad)

# %% [markdown]
# ## 5. The gradient of a function at a point
#
# A function that *uses* autograd should not surprise its caller. If `grad_of(f, x)` simply
# did `x.requires_grad_(); f(x).backward(); return x.grad`, the caller's `x` would come back
# changed: suddenly requiring grad, with a gradient sitting in `x.grad`, and if `x` already
# held a gradient, the result would even be wrong (section 3: `backward()` adds). The clean
# way is to differentiate a **copy**: `x.detach()` shares the numbers but not the history, and
# `requires_grad_()` on that copy leaves `x` alone. `torch.autograd.grad(out, inputs)` then
# *returns* the gradient instead of storing it in `.grad`.
#
# A bonus of this view: for a function applied element by element, the gradient of the
# *sum* at a grid of points is the derivative at every point at once (each term depends on
# one point only). That is how the derivative below is drawn, with one backward pass.

# %%
grid = torch.linspace(-6, 6, 400, requires_grad=True)
curve = grid * torch.sin(grid)
(slope,) = torch.autograd.grad(curve.sum(), grid)
plt.figure(figsize=(6, 3))
plt.plot(grid.detach(), curve.detach(), label="x sin x")
plt.plot(grid.detach(), slope, label="its derivative, by autograd")
plt.plot(grid.detach()[::25], (torch.sin(grid) + grid * torch.cos(grid)).detach()[::25], "k.",
         label="sin x + x cos x, by hand")
plt.legend()
plt.grid(alpha=0.3)
plt.show()


# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_02", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 1 · `grad_of(f, x)` (2 points)
#
# `f` takes a tensor shaped like `x` and returns a scalar tensor (0-dim). Return
# $\partial f / \partial x$ at `x`: a tensor with the shape, dtype and device of `x`.
#
# Leave the caller's `x` exactly as it was: same values, same `requires_grad`, same `.grad`
# (which may be `None` or may already hold a gradient the caller collected); the grader
# compares all three before and after your call. And it must work even when the caller has
# switched recording off with `torch.no_grad()` (section 4). As in chapter 02, the grader
# also runs it on the meta device (shapes, no values): keep to torch operations on `x`'s
# device, no `.item()`, `.cpu()` or numpy.

# %% nbgrader={"grade": false, "grade_id": "grad_of", "locked": false, "schema_version": 3, "solution": true}
def grad_of(f, x):
    """df/dx at x for a scalar function f, leaving x untouched."""
    ### BEGIN SOLUTION
    with torch.enable_grad():
        xx = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(f(xx), xx)
    ### END SOLUTION
    return g


# %% nbgrader={"grade": true, "grade_id": "test_grad_of", "locked": true, "points": 2, "schema_version": 3, "solution": false}
x_t = torch.tensor([1.0, -2.0, 3.0])
g_t = grad_of(lambda v: (v ** 2).sum(), x_t)
assert isinstance(g_t, torch.Tensor) and g_t.shape == x_t.shape, \
    f"grad_of must return a tensor shaped like x {tuple(x_t.shape)}, got {g_t!r}"
assert torch.allclose(g_t, torch.tensor([2.0, -4.0, 6.0])), \
    f"d/dx sum(x^2) = 2x = [2, -4, 6], got {g_t}"
assert not x_t.requires_grad, "grad_of switched on x.requires_grad of the caller's tensor"
assert x_t.grad is None, "grad_of left a gradient in the caller's x.grad"
with torch.no_grad():
    g_t = grad_of(lambda v: (v ** 3).sum(), x_t)
assert torch.allclose(g_t, 3 * x_t ** 2), "inside torch.no_grad(), grad_of must still work"
# The grader's check: other functions, float32 and float64, an x that already holds a .grad,
# and the meta device.
check("ch03.grad_of", grad_of)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch03.grad_of", grad_of)
### END HIDDEN TESTS

# %% [markdown]
# ## 6. More outputs than one: Jacobians, row by row
#
# `backward()` on a scalar gives a gradient. For a function with $m$ outputs and $n$ inputs
# the full derivative is the $m \times n$ **Jacobian** $J_{ij} = \partial f_i / \partial x_j$.
# Autograd never builds it: a backward pass computes a *vector-Jacobian product*
# $v^\top J$ for a vector $v$ you choose (the `gradient=` argument of `backward`, the
# `grad_outputs=` of `torch.autograd.grad`). Calling `backward()` on a non-scalar without
# one is an error, precisely because PyTorch would not know which combination you want:

# %%
x_j = torch.tensor([1.0, 2.0], requires_grad=True)
y_j = torch.stack([x_j[0] * x_j[1], x_j[1] ** 2, 3 * x_j[0]])
try:
    y_j.backward()
except RuntimeError as err:
    print("RuntimeError:", err)
# v = (1, 0, 0) picks the first row of J: d(x0 x1)/dx = (x1, x0)
y_j.backward(gradient=torch.tensor([1.0, 0.0, 0.0]))
print("first row of J:", x_j.grad)


# %% [markdown]
# So one backward pass gives one row: choose $v = e_i$, or simply differentiate the single
# output $f_i(x)$. Two details matter when you do this $m$ times on one graph:
#
# * a backward pass **frees** the graph's saved values as it goes; to walk the same graph
#   again, pass `retain_graph=True` (to all but the last pass);
# * `backward()` **adds** into `.grad` (section 3), so either zero it between rows or use
#   `torch.autograd.grad`, which returns the row without storing anything.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_03", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 2 · `jacobian_rows(f, x)` (3 points)
#
# `f` maps a 1-D tensor `x` of shape `(n,)` to a 1-D tensor of shape `(m,)`. Return the
# Jacobian `J` of shape `(m, n)`, `J[i, j]` $= \partial f_i / \partial x_j$, with `x`'s dtype
# and device, built **row by row** with `backward()` or `torch.autograd.grad`: not with
# `torch.func` or `torch.autograd.functional`, which do it for you (the grader notices a
# call to them, under any name). As in exercise 1, leave the caller's `x` untouched (same
# values, `requires_grad` and `.grad`), and expect to run on the meta device too.

# %% nbgrader={"grade": false, "grade_id": "jacobian_rows", "locked": false, "schema_version": 3, "solution": true}
def jacobian_rows(f, x):
    """The (m, n) Jacobian of f: R^n -> R^m at x, one backward pass per row."""
    ### BEGIN SOLUTION
    with torch.enable_grad():
        xx = x.detach().requires_grad_(True)
        y = f(xx)
        rows = []
        for i in range(y.shape[0]):
            (row,) = torch.autograd.grad(y[i], xx, retain_graph=i < y.shape[0] - 1)
            rows.append(row)
    J = torch.stack(rows)
    ### END SOLUTION
    return J


# %% nbgrader={"grade": true, "grade_id": "test_jacobian_rows", "locked": true, "points": 3, "schema_version": 3, "solution": false}
def f_t(v):
    return torch.stack([v[0] * v[1], v[1] ** 2, 3 * v[0]])


J_t = jacobian_rows(f_t, torch.tensor([1.0, 2.0]))
assert isinstance(J_t, torch.Tensor), f"jacobian_rows must return a tensor, got {type(J_t)}"
assert J_t.shape == (3, 2), f"3 outputs and 2 inputs make a (3, 2) Jacobian, got {tuple(J_t.shape)}"
assert torch.allclose(J_t, torch.tensor([[2.0, 1.0], [0.0, 4.0], [3.0, 0.0]])), \
    f"rows should be d(x0 x1) = (x1, x0), d(x1^2) = (0, 2 x1), d(3 x0) = (3, 0); got\n{J_t}"
check("ch03.jacobian_rows", jacobian_rows)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch03.jacobian_rows", jacobian_rows)
### END HIDDEN TESTS

# %% [markdown]
# ## 7. Updating parameters: two errors and a silent bug
#
# Gradient descent needs `w ← w - lr * w.grad`. It looks harmless, but there are three ways to
# get it wrong with autograd, and the loop below (a linear model fitted with the *mean*
# squared error) makes all three:

# %%
def buggy_update_loop(x, y, w, b, lr, steps):
    losses = []
    for _ in range(steps):
        loss = ((x @ w + b - y) ** 2).mean()
        losses.append(loss.item())
        loss.backward()
        w -= lr * w.grad          # bug 1: in place on a leaf, while autograd records
        b = b - lr * b.grad       # bug 2: re-assignment, b is now another tensor
        # bug 3: w.grad and b.grad are never cleared
    return w, b, losses


x_l = torch.randn(32, 5)
y_l = x_l @ torch.randn(5, 2) + 0.5
w_l, b_l = torch.zeros(5, 2, requires_grad=True), torch.zeros(2, requires_grad=True)
try:
    buggy_update_loop(x_l, y_l, w_l, b_l, lr=0.1, steps=5)
except RuntimeError as err:
    print("RuntimeError:", err)

# %% [markdown]
# **Bug 1.** `w -= ...` changes a leaf that requires grad *in place*, while autograd is
# recording: the subtraction would itself become part of the graph, and the leaf whose
# gradient you asked for would no longer hold the values the graph used. PyTorch refuses.
# The update is not part of the model, so it belongs inside `with torch.no_grad():`.
#
# **Bug 2.** With bug 1 fixed, the loop would fail one step later. `b = b - lr * b.grad`
# does not change the tensor `b`: it makes a *new* tensor and points the name `b` at it.
# Outside `no_grad` that new tensor is a non-leaf, so the next `backward()` fills the
# `.grad` of the *old* leaf, and `b.grad` is `None`. (Inside `no_grad` the new tensor does
# not require grad at all, so `b` silently stops being trained.) Here it is step by step:

# %%
b_old = torch.zeros(2, requires_grad=True)
b = b_old
((x_l @ w_l + b - y_l) ** 2).mean().backward()
b = b - 0.1 * b.grad                     # re-assignment
print("b is the old leaf?", b is b_old, "| b.is_leaf:", b.is_leaf, "| b.grad_fn:", b.grad_fn)
((x_l @ w_l + b - y_l) ** 2).mean().backward()
with warnings.catch_warnings():          # PyTorch also warns when .grad of a non-leaf is read
    warnings.simplefilter("ignore")
    try:
        print(b.grad * 0.1)              # None: the gradient went to b_old
    except TypeError as err:
        print("TypeError:", err)


# %% [markdown]
# **Bug 3** raises nothing, which makes it the worst of the three: without zeroing, step $t$
# uses the *sum* of all gradients so far, as if the learning rate grew with every step. The
# plot shows the loss of the loop with bugs 1 and 2 fixed, with and without zeroing.

# %%
def loop_with_option(zero, steps=60, lr=0.2):
    w = torch.zeros(5, 2, requires_grad=True)
    b = torch.zeros(2, requires_grad=True)
    losses = []
    for _ in range(steps):
        loss = ((x_l @ w + b - y_l) ** 2).mean()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        if zero:
            w.grad = None
            b.grad = None
    return losses


loss_curve({"gradients zeroed": loop_with_option(True),
            "never zeroed (bug 3)": loop_with_option(False)},
           title="Same loop, same learning rate")
plt.show()


# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_04", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 3 · `fixed_update_loop(x, y, w, b, lr, steps)` (3 points)
#
# Below is `buggy_update_loop` again, with the forward pass, the loss and the backward pass
# kept; the three lines that update the parameters are gone. Write the update step so that
# none of the three bugs remains:
#
# 1. the update is not recorded by autograd (`with torch.no_grad():`);
# 2. `w` and `b` are updated **in place** (`-=`), so the caller's tensors are the ones
#    trained, and the function returns those very tensors, still leaves that require grad
#    (training could continue from them);
# 3. each step uses only its own gradient: zero `w.grad` and `b.grad` (or set them to
#    `None`) after the update.
#
# `x` is `(N, D)`, `y` is `(N, K)`, `w` `(D, K)` and `b` `(K,)` are leaf tensors with
# `requires_grad=True`. The loss is the mean squared error, each loss is recorded as a
# Python float before its update, and `(w, b, losses)` is returned. Do not modify `x` or
# `y`. (You may also rewrite the whole function, as long as it keeps this contract.)

# %% nbgrader={"grade": false, "grade_id": "fixed_update_loop", "locked": false, "schema_version": 3, "solution": true}
def fixed_update_loop(x, y, w, b, lr, steps):
    """Gradient descent on the MSE of a linear model, with autograd done right."""
    losses = []
    for _ in range(steps):
        loss = ((x @ w + b - y) ** 2).mean()
        losses.append(loss.item())
        loss.backward()
        # the update of w and b, and the zeroing of their gradients:
        ### BEGIN SOLUTION
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad = None
        b.grad = None
        ### END SOLUTION
    return w, b, losses


# %% nbgrader={"grade": true, "grade_id": "test_fixed_update_loop", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# One step by hand: r = x w + b - y = (-2, -4); loss = (4 + 16) / 2 = 10;
# dL/dw = 2/2 * (1*(-2) + 2*(-4)) = -10 and dL/db = 2/2 * (-2 - 4) = -6.
w_t = torch.zeros(1, 1, requires_grad=True)
b_t = torch.zeros(1, requires_grad=True)
w_out, b_out, losses_t = fixed_update_loop(torch.tensor([[1.0], [2.0]]), torch.tensor([[2.0], [4.0]]),
                                           w_t, b_t, lr=0.1, steps=1)
assert len(losses_t) == 1 and abs(losses_t[0] - 10.0) < 1e-5, \
    f"losses should be [10.0] (the loss before the update), got {losses_t}"
assert w_out is w_t and b_out is b_t, \
    "return the tensors you were given (update them in place, do not re-assign w or b)"
assert torch.allclose(w_t.detach(), torch.tensor([[1.0]])), f"w should be 0 - 0.1 * (-10) = 1, got {w_t}"
assert torch.allclose(b_t.detach(), torch.tensor([0.6])), f"b should be 0 - 0.1 * (-6) = 0.6, got {b_t}"
# The grader's check: more steps, several outputs, a batch of one.
check("ch03.fixed_update_loop", fixed_update_loop)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch03.fixed_update_loop", fixed_update_loop)
### END HIDDEN TESTS

# %% [markdown]
# The loop of the demo data, fixed: the loss now falls steadily.

# %%
with needs("fixed_update_loop"):
    _, _, losses_fixed = fixed_update_loop(x_l, y_l, torch.zeros(5, 2, requires_grad=True),
                                           torch.zeros(2, requires_grad=True), lr=0.2, steps=60)
    print(f"loss {losses_fixed[0]:.3g} at the start, {losses_fixed[-1]:.3g} after 60 steps")


# %% [markdown]
# ## 8. Chapter 01's network, with autograd
#
# Everything is in place to retire your hand-written `backward`. The network is the same
# (`N, D_in, H, D_out`, `x`, `y`, `w1`, `w2`, the sum of squared errors), but now the
# weights are tensors with `requires_grad=True`, the forward pass builds the graph, and
# `loss.backward()` fills `w1.grad` and `w2.grad`. What is left for you is the loop:
# forward, loss, backward, update under `no_grad`, zero the gradients.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_05", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 4 · `autograd_two_layer_train(x, y, w1, w2, lr, steps)` (2 points)
#
# `x` `(N, D_in)` and `y` `(N, D_out)` are plain tensors; `w1` `(D_in, H)` and `w2`
# `(H, D_out)` are **leaf tensors with `requires_grad=True`**, all of one dtype on one
# device. The prediction is `relu(x @ w1) @ w2` and the loss is the **sum** of squared
# errors, as in chapter 01. Run `steps` steps of gradient descent with autograd computing the
# gradients, and return `(w1, w2, losses)`: the trained weights, still leaves that require
# grad (updating them in place is the natural way, so the caller's `w1` and `w2` may
# change), and the `steps` losses as Python floats, each recorded before its update. Do not
# modify `x` or `y`.

# %% nbgrader={"grade": false, "grade_id": "autograd_two_layer_train", "locked": false, "schema_version": 3, "solution": true}
def autograd_two_layer_train(x, y, w1, w2, lr, steps):
    """Chapter 01's gradient descent, with loss.backward() in place of the hand-written backward."""
    ### BEGIN SOLUTION
    losses = []
    for _ in range(steps):
        y_pred = torch.relu(x @ w1) @ w2
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            w1 -= lr * w1.grad
            w2 -= lr * w2.grad
            w1.grad.zero_()
            w2.grad.zero_()
    ### END SOLUTION
    return w1, w2, losses


# %% nbgrader={"grade": true, "grade_id": "test_autograd_two_layer_train", "locked": true, "points": 2, "schema_version": 3, "solution": false}
w1_t = torch.randn(5, 6, dtype=torch.float64, requires_grad=True)
w2_t = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
x_t, y_t = torch.randn(4, 5, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
first_loss = float((torch.relu(x_t @ w1_t) @ w2_t - y_t).pow(2).sum().detach())
w1_t, w2_t, losses_t = autograd_two_layer_train(x_t, y_t, w1_t, w2_t, lr=1e-3, steps=5)
assert len(losses_t) == 5, f"5 steps should record 5 losses, got {len(losses_t)}"
assert all(type(v) is float for v in losses_t), "record each loss as a Python float (loss.item())"
assert abs(losses_t[0] - first_loss) < 1e-9 * max(1.0, first_loss), \
    "losses[0] must be the loss of the initial weights (record it before the update)"
assert losses_t[-1] < losses_t[0], "the loss should fall with a small learning rate"
assert w1_t.is_leaf and w1_t.requires_grad, "the returned w1 must still be a leaf that requires grad"
check("ch03.autograd_two_layer_train", autograd_two_layer_train)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch03.autograd_two_layer_train", autograd_two_layer_train)
### END HIDDEN TESTS

# %% [markdown]
# ### Watch it learn
#
# The classic sizes again, now on the fastest device this machine has (a GPU if there is
# one). Only the loop changed from chapter 01, and the gradients come from autograd.

# %%
device = default_device()
N, D_in, H, D_out = 64, 1000, 100, 10
x = torch.randn(N, D_in, device=device)
y = torch.randn(N, D_out, device=device)
w1 = torch.randn(D_in, H, device=device, requires_grad=True)
w2 = torch.randn(H, D_out, device=device, requires_grad=True)

learning_rate = 1e-6
rounds = pick(full=10, quick=2)
history = []
with needs("autograd_two_layer_train"):
    for _ in progress(range(rounds), desc=f"training on {device}"):
        w1, w2, losses = autograd_two_layer_train(x, y, w1, w2, learning_rate, steps=50)
        history += losses
    print(f"loss: {history[0]:.4g} at the start, {history[-1]:.4g} after {len(history)} steps")
    loss_curve(history, title=f"Two-layer net with autograd ({device})")
    plt.show()

# %% [markdown]
# ## 9. Static graphs and dynamic graphs
#
# Some frameworks (TensorFlow 1, for one) first *describe* a computation as a graph and then
# run that fixed graph many times. PyTorch can do the same with `torch.fx.symbolic_trace`:
# it calls your function once with placeholder "proxy" values instead of tensors and
# records every operation. The result is a static graph, and Python code regenerated from
# it, that a compiler can inspect and optimise:

# %%
import torch.fx


def two_layer_loss(x, y, w1, w2):
    return (torch.relu(x @ w1) @ w2 - y).pow(2).sum()


traced = torch.fx.symbolic_trace(two_layer_loss)
print(traced.graph)
print("the code regenerated from the graph:", traced.code)

# %% [markdown]
# A static graph is recorded **once**, so it cannot depend on the values that flow through
# it. A proxy has no value, so the tracer cannot decide `if h.sum() > 0` in `bumpy` from
# section 2, and it says so:

# %%
try:
    torch.fx.symbolic_trace(bumpy)
except torch.fx.proxy.TraceError as err:
    print("TraceError:", err)

# %% [markdown]
# Autograd has no such problem because it never traces ahead of time: its graph is
# recorded *during* each call, from the operations that actually ran. `backward()` frees
# the tensors the graph saved for it (the intermediate values), so that graph cannot be
# walked a second time without `retain_graph=True`; the next call records a new graph
# anyway. Every call of `bumpy` gets the graph of its own branch, and the gradients follow
# it (the relu branch and the tanh branch give different formulas):

# %%
for x_b in (torch.ones(1, 3), torch.full((1, 3), -0.5)):
    (g,) = torch.autograd.grad(bumpy(x_b, w_b), w_b)
    print(f"input {x_b.tolist()}: d bumpy / dw =\n{g}")

# %% [markdown]
# The price of the dynamic graph is a little Python overhead on every operation; the gain is
# that any Python you can write, data-dependent branches and loops included, can be
# differentiated. (`torch.compile` later gets much of both: it traces, and falls back to
# Python where a trace would be unfaithful.)
#
# ## Check all your answers at once

# %%
check_chapter("ch03", globals());

# %% [markdown]
# ## What comes next
#
# Autograd knows the backward pass of every built-in operation. Chapter 04 shows how to add
# your own operation: a `torch.autograd.Function` with a `forward` and a `backward`, checked
# with `torch.autograd.gradcheck`. Chapters 05 and 06 then replace the rest of the loop you
# wrote here: `nn` layers and losses for the forward pass, `torch.optim` for the update and
# the zeroing.
