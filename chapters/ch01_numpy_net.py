# %% [markdown]
# # Chapter 01 · A two-layer network by hand, in numpy
#
# Deep-learning frameworks do three things for you: they run the **forward pass**, they
# compute **gradients**, and they **update** parameters. Before we let PyTorch do any of
# it, we do all three by hand for the smallest network that is still interesting: one
# hidden layer with a ReLU, fitted to random data by gradient descent.
#
# When you have finished this chapter you will have written, in plain numpy:
#
# 1. `forward(x, w1, w2)`: the prediction of the network,
# 2. `sse_loss(y_pred, y)`: how wrong the prediction is,
# 3. `backward(x, y, h, h_relu, y_pred, w2)`: the gradient of the loss for each weight, with the chain rule,
# 4. `train(x, y, w1, w2, lr, steps)`: the loop that puts them together.
#
# Every later chapter replaces one of these hand-written pieces by a PyTorch tool, so it
# pays to understand each of them now.
#
# **How grading works.** Each exercise has a cell where you write your code (in place of
# `raise NotImplementedError()`), and a test cell after it. The test cell runs a tiny
# example you can follow by hand, then calls the grader's own check, for instance
# `check("ch01.forward", forward)`. The checks are public: they are part of the course's
# `autograder` package, and you may run them as often as you like, one exercise at a time
# or all at once with `check_chapter("ch01", globals())` (the last cell of the notebook).
# A check calls your function on random inputs, compares what it returns with an
# independent computation (here PyTorch's, in float64), checks the rules the exercise
# states (such as "numpy only" or "do not modify the arrays you are given"), and tells you
# what differs, where, by how much, and the usual cause.
#
# When you submit, the same checks run again on **fresh random inputs** that the grader
# draws for that run: an answer has to be right in general, not only on the inputs you
# have seen. Your notebook then runs in a sandboxed kernel that only records what your
# functions return; the verdict is computed **outside the notebook's kernel**, so nothing
# a notebook does can change it. Each exercise is graded on its own: where one exercise
# calls another (`train` calls your `forward`, `sse_loss` and `backward`), the grader
# puts its own versions of the others in their place, so one mistake costs points once.

# %% nbgrader={"grade": false, "grade_id": "locked_01", "locked": true, "schema_version": 3, "solution": false}
import numpy as np
import matplotlib.pyplot as plt

from autograder import check, check_chapter, needs, pick
from autograder import loss_curve, progress

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## 1. The problem
#
# We use the classic sizes of this exercise: a batch of `N = 64` examples, each with
# `D_in = 1000` input features, a hidden layer of `H = 100` units and `D_out = 10` outputs.
# The data is random: there is nothing to *learn* here, only something to *fit*, which is
# exactly what we need to watch an optimiser at work.
#
# We keep these names (`N, D_in, H, D_out, x, y, w1, w2`) through the next chapters, so that
# each new version of the network differs from the last only where something changed.

# %%
N, D_in, H, D_out = 64, 1000, 100, 10

rng = np.random.default_rng(0)
x = rng.standard_normal((N, D_in))      # inputs, one row per example
y = rng.standard_normal((N, D_out))     # targets
w1 = rng.standard_normal((D_in, H))     # first layer weights
w2 = rng.standard_normal((H, D_out))    # second layer weights

for name, a in [("x", x), ("y", y), ("w1", w1), ("w2", w2)]:
    print(f"{name:>2}: shape {a.shape}, dtype {a.dtype}")

# %% [markdown]
# ## 2. The forward pass
#
# The network computes, for the whole batch at once:
#
# $$h = x\,w_1 \qquad h_{relu} = \max(h, 0) \qquad \hat y = h_{relu}\,w_2$$
#
# Why keep `h` and `h_relu` and not just return $\hat y$? Because the backward pass needs
# them: the gradient of a ReLU depends on where its input was positive, and the gradient of
# $w_2$ depends on what was multiplied by it. A framework keeps exactly these intermediate
# values for you; here we keep them by hand.
#
# Why a non-linearity at all? Without it, $x\,w_1\,w_2$ is just one matrix $x\,W$: two
# layers would be no more expressive than one. The ReLU is the simplest function that
# breaks this, and its derivative is trivial:

# %%
z = np.linspace(-3, 3, 601)
fig, ax = plt.subplots(1, 2, figsize=(8, 2.8))
ax[0].plot(z, np.maximum(z, 0))
ax[0].set_title("ReLU(z) = max(z, 0)")
ax[1].plot(z, (z > 0).astype(float))
ax[1].set_title("its derivative: 1 where z > 0, else 0")
for a in ax:
    a.axhline(0, color="gray", lw=0.5)
    a.axvline(0, color="gray", lw=0.5)
plt.tight_layout()
plt.show()


# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_02", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 1 · `forward(x, w1, w2)` (2 points)
#
# Return the tuple `(h, h_relu, y_pred)` for a batch `x` of shape `(N, D_in)`.
# Use numpy only (`@` or `np.dot`, `np.maximum`); no torch. Do not modify the arrays you
# are given, and keep `h` as it was before the ReLU (`h_relu` is a new array).

# %% nbgrader={"grade": false, "grade_id": "forward", "locked": false, "schema_version": 3, "solution": true}
def forward(x, w1, w2):
    """Forward pass of the two-layer ReLU net: returns (h, h_relu, y_pred)."""
    ### BEGIN SOLUTION
    h = x @ w1
    h_relu = np.maximum(h, 0)
    y_pred = h_relu @ w2
    ### END SOLUTION
    return h, h_relu, y_pred


# %% nbgrader={"grade": true, "grade_id": "test_forward", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# A tiny case you can check by hand: the second hidden unit is negative, so ReLU zeroes it.
x_tiny = np.array([[1.0, 2.0]])
w1_tiny = np.array([[1.0, -1.0], [1.0, -1.0]])
w2_tiny = np.array([[2.0], [5.0]])
h_t, h_relu_t, y_pred_t = forward(x_tiny, w1_tiny, w2_tiny)
assert isinstance(y_pred_t, np.ndarray), "forward must return numpy arrays"
assert np.allclose(h_t, [[3.0, -3.0]]), f"h should be [[3, -3]], got {h_t}"
assert np.allclose(h_relu_t, [[3.0, 0.0]]), f"h_relu should be [[3, 0]], got {h_relu_t}"
assert np.allclose(y_pred_t, [[6.0]]), f"y_pred should be [[6]], got {y_pred_t}"
# The grader's check: random inputs of several sizes against PyTorch's float64 forward pass.
check("ch01.forward", forward)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch01.forward", forward)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. How wrong is the prediction? The loss
#
# To improve the weights we need one number that says how far the prediction is from the
# target. Here it is the **sum of squared errors** over every example and every output:
#
# $$L = \sum_{n,k} (\hat y_{nk} - y_{nk})^2$$
#
# A sum (rather than a mean) keeps the gradients simple; it also means the loss grows with
# the batch size, which is why the learning rate below is tiny. Chapter 05 uses the mean.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_03", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 2 · `sse_loss(y_pred, y)` (1 point)
#
# Return the sum of squared errors as a Python or numpy float (not an array). Numpy only
# (no torch), and do not modify the arrays you are given.

# %% nbgrader={"grade": false, "grade_id": "sse_loss", "locked": false, "schema_version": 3, "solution": true}
def sse_loss(y_pred, y):
    """Sum of squared errors between prediction and target (a float)."""
    ### BEGIN SOLUTION
    return float(np.square(y_pred - y).sum())
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_sse_loss", "locked": true, "points": 1, "schema_version": 3, "solution": false}
loss_t = sse_loss(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 0.0], [0.0, 4.0]]))
assert np.ndim(loss_t) == 0, "sse_loss must return one number"
assert np.isclose(loss_t, 13.0), f"(0)^2 + 2^2 + 3^2 + 0^2 = 13, got {loss_t}"
check("ch01.sse_loss", sse_loss)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch01.sse_loss", sse_loss)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. The backward pass: the chain rule, one layer at a time
#
# Gradient descent needs $\partial L / \partial w_1$ and $\partial L / \partial w_2$. We get
# them by walking the forward pass backwards, multiplying local derivatives (the chain rule):
#
# | step | forward | backward |
# |---|---|---|
# | loss | $L = \sum (\hat y - y)^2$ | $\partial L/\partial \hat y = 2(\hat y - y)$, shape `(N, D_out)` |
# | layer 2 | $\hat y = h_{relu} w_2$ | $\partial L/\partial w_2 = h_{relu}^\top\, \partial L/\partial \hat y$, shape `(H, D_out)` |
# | | | $\partial L/\partial h_{relu} = \partial L/\partial \hat y\; w_2^\top$, shape `(N, H)` |
# | ReLU | $h_{relu} = \max(h, 0)$ | $\partial L/\partial h = \partial L/\partial h_{relu}$ where $h > 0$, else $0$ |
# | layer 1 | $h = x w_1$ | $\partial L/\partial w_1 = x^\top\, \partial L/\partial h$, shape `(D_in, H)` |
#
# **Let the shapes guide you.** A gradient always has the shape of what it is the gradient
# of: `grad_w1` has the shape of `w1`. If your product comes out as `(H, D_in)`, you have
# the order of the factors (or a transpose) the wrong way round.
#
# How do we know a gradient is right? We can *measure* it: nudge one weight by a tiny
# $\varepsilon$ in each direction and watch the loss. This **centred finite difference**
#
# $$\frac{\partial L}{\partial w} \approx \frac{L(w + \varepsilon) - L(w - \varepsilon)}{2\varepsilon}$$
#
# needs two forward passes per weight, far too slow for training, but perfect for
# checking. The demo below measures one entry of `grad_w2`; once you have written
# `backward`, the demo after the exercise compares it with yours.
#
# When a shape does not fit, Python stops with a traceback. In Jupyter, run `%debug` in a
# new cell right after the error: you land in the frame that failed and can print the
# shape of every array there (`p grad_h.shape`, `q` to quit). Inside your own function,
# a call to `breakpoint()` stops at that line the next time it runs (older notebooks write
# `from IPython.core.debugger import set_trace; set_trace()`, which does the same). Remove
# it before you submit: nobody can answer the debugger's prompt during grading.

# %%
def numeric_grad_entry(w, i, j, loss_of_w, eps=1e-6):
    """Centred difference of loss_of_w() with respect to the single entry w[i, j]."""
    old = w[i, j]
    w[i, j] = old + eps
    up = loss_of_w()
    w[i, j] = old - eps
    down = loss_of_w()
    w[i, j] = old
    return (up - down) / (2 * eps)

x_s, y_s = rng.standard_normal((4, 5)), rng.standard_normal((4, 3))
w1_s, w2_s = rng.standard_normal((5, 6)), rng.standard_normal((6, 3))
h_relu_s = np.maximum(x_s @ w1_s, 0)
measured = numeric_grad_entry(w2_s, 0, 0, lambda: np.square(h_relu_s @ w2_s - y_s).sum())
print(f"dL/dw2[0, 0] measured by finite differences: {measured:.6f}")


# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_04", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 3 · `backward(x, y, h, h_relu, y_pred, w2)` (3 points)
#
# Return `(grad_w1, grad_w2)`, the gradients of `sse_loss(y_pred, y)` with respect to `w1`
# and `w2`, computed with the chain rule. Numpy only (no torch); no loops needed.
# Do not modify the arrays you are given (`y_pred -= y` would change the caller's
# `y_pred`: write `grad_y_pred = 2.0 * (y_pred - y)`, a new array).

# %% nbgrader={"grade": false, "grade_id": "backward", "locked": false, "schema_version": 3, "solution": true}
def backward(x, y, h, h_relu, y_pred, w2):
    """Gradients of the sum of squared errors with respect to w1 and w2."""
    ### BEGIN SOLUTION
    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h_relu.T @ grad_y_pred
    grad_h_relu = grad_y_pred @ w2.T
    grad_h = grad_h_relu * (h > 0)
    grad_w1 = x.T @ grad_h
    ### END SOLUTION
    return grad_w1, grad_w2


# %% nbgrader={"grade": true, "grade_id": "test_backward", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# One example, two hidden units: h = [[3, -3]], so the ReLU passes only the first.
# y_pred = 3 * 2 = 6 and y = 1: dL/dy_pred = 2 (6 - 1) = 10.
x_b = np.array([[1.0, 2.0]])
y_b = np.array([[1.0]])
w2_b = np.array([[2.0], [5.0]])
h_b, h_relu_b, y_pred_b = np.array([[3.0, -3.0]]), np.array([[3.0, 0.0]]), np.array([[6.0]])
g1_b, g2_b = backward(x_b, y_b, h_b, h_relu_b, y_pred_b, w2_b)
assert g2_b.shape == (2, 1) and g1_b.shape == (2, 2), \
    f"grad_w1 must have the shape of w1 (2, 2) and grad_w2 that of w2 (2, 1), got {g1_b.shape}, {g2_b.shape}"
# grad_w2 = h_relu.T @ [[10]] = [[30], [0]]
assert np.allclose(g2_b, [[30.0], [0.0]]), f"grad_w2 should be [[30], [0]], got {g2_b.tolist()}"
# grad_h = [[10 * 2, 10 * 5]] masked by h > 0 = [[20, 0]]; grad_w1 = x.T @ grad_h
assert np.allclose(g1_b, [[20.0, 0.0], [40.0, 0.0]]), \
    f"grad_w1 should be [[20, 0], [40, 0]] (the second unit is off: its column is 0), got {g1_b.tolist()}"
# The grader's check: PyTorch's autograd and finite differences on random inputs.
check("ch01.backward", backward)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch01.backward", backward)
### END HIDDEN TESTS

# %% [markdown]
# Your `grad_w2[0, 0]` next to the value measured by finite differences before the
# exercise (they should agree to about six digits):

# %%
with needs("forward", "backward"):
    h_s, h_relu_s, y_pred_s = forward(x_s, w1_s, w2_s)
    g1_s, g2_s = backward(x_s, y_s, h_s, h_relu_s, y_pred_s, w2_s)
    print(f"backward: {g2_s[0, 0]:.6f}   finite differences: {measured:.6f}")


# %% [markdown]
# ## 5. Training: repeat forward, loss, backward, update
#
# Gradient descent moves every weight a small step against its gradient:
#
# $$w \leftarrow w - \text{lr} \cdot \frac{\partial L}{\partial w}$$
#
# One **step** is: forward pass, loss, backward pass, update of both weights. Record the
# loss of each step *before* its update, so that `losses[0]` is the loss of the weights you
# were given.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_05", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 4 · `train(x, y, w1, w2, lr, steps)` (2 points)
#
# Run `steps` steps of gradient descent using your `forward`, `sse_loss` and `backward`.
# Return `(w1, w2, losses)`: the final weights and the list of `steps` losses. Numpy only
# (no torch). Do not modify the arrays you are given: `w1 -= lr * grad_w1` would write
# into the caller's `w1`; `w1 = w1 - lr * grad_w1` makes a new array.

# %% nbgrader={"grade": false, "grade_id": "train", "locked": false, "schema_version": 3, "solution": true}
def train(x, y, w1, w2, lr, steps):
    """Plain gradient descent; returns the final weights and the loss of every step."""
    ### BEGIN SOLUTION
    losses = []
    for _ in range(steps):
        h, h_relu, y_pred = forward(x, w1, w2)
        losses.append(sse_loss(y_pred, y))
        grad_w1, grad_w2 = backward(x, y, h, h_relu, y_pred, w2)
        w1 = w1 - lr * grad_w1
        w2 = w2 - lr * grad_w2
    ### END SOLUTION
    return w1, w2, losses


# %% nbgrader={"grade": true, "grade_id": "test_train", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# The grader's check runs your `train` with its own forward, sse_loss and backward in
# place of yours, so that a mistake in one of those is not counted here a second time.
# The cells below run it with yours.
check("ch01.train", train)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch01.train", train)
### END HIDDEN TESTS

# %% [markdown]
# A tiny run with your own functions: five steps on the small problem of section 4.
# `losses[0]` is the loss of the weights you started from, and the loss falls.

# %%
with needs("forward", "sse_loss", "backward", "train"):
    w1_before = w1_s.copy()
    w1_t, w2_t, losses_t = train(x_s, y_s, w1_s, w2_s, lr=1e-3, steps=5)
    print("losses:", np.round(losses_t, 3))
    print("w1_s is unchanged (train returned new arrays):", np.array_equal(w1_s, w1_before))

# %% [markdown]
# ## 6. Watch it learn
#
# Now fit the random data of section 1. With a sum (not a mean) over 64 × 10 outputs the
# loss starts in the tens of millions, so the learning rate must be small: try `1e-5` and
# watch the loss explode, or `1e-7` and watch it crawl. The progress bar counts rounds of
# 50 steps; `train` simply continues from the weights the last round returned.
#
# (In quick mode, used by the autograder, fewer steps are run.)

# %%
learning_rate = 1e-6
rounds = pick(full=10, quick=2)
with needs("forward", "sse_loss", "backward", "train"):
    w1_fit, w2_fit, history = w1, w2, []
    for _ in progress(range(rounds), desc="training"):
        w1_fit, w2_fit, losses = train(x, y, w1_fit, w2_fit, learning_rate, steps=50)
        history += losses
    print(f"loss: {history[0]:.4g} at the start, {history[-1]:.4g} after {len(history)} steps")
    loss_curve(history, title="Two-layer net on random data (numpy)")
    plt.show()

# %% [markdown]
# ## Check all your answers at once
#
# One line runs the grader's checks for every exercise of this chapter and prints, for
# each, a tick or what is wrong and the usual cause. Run it whenever you like; the hidden
# tests at submission are these same checks.

# %%
check_chapter("ch01", globals());

# %% [markdown]
# ## What we automated next
#
# Everything above was bookkeeping a computer can do: remembering intermediate values,
# applying the chain rule in the right order, updating every weight. In the chapters that
# follow, PyTorch takes over one piece at a time:
#
# * **02 Tensors**: the same network on tensors, which can live on a GPU;
# * **03 Autograd**: `loss.backward()` replaces your `backward`;
# * **04 Custom Functions**: how you would teach autograd a new operation;
# * **05-06 nn and optim**: layers, losses and optimisers replace `forward`, `sse_loss` and the update.
