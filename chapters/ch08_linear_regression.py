# %% [markdown]
# # Chapter 08 · Linear regression: the whole recipe
#
# You now hold every part of a training program: tensors and autograd (chapters 02 to 04),
# modules and losses (05 and 07), optimizers and checkpoints (06). This chapter assembles
# them into the recipe every project follows, on the smallest problem there is: fitting the
# straight line $\hat y = a + b\,x$ (`a` the **intercept**, `b` the **slope**). With nothing
# else to think about, you can watch the recipe itself. The data is made with $a = 1$ and
# $b = 2$, so we always know whether training worked.
#
# The first sections are a brisk recap: the line fitted by hand in numpy and checked against
# scikit-learn, then the same with PyTorch's tools, one step per cell, each with a pointer to
# the chapter that taught it. Then what is new: the **data pipeline** (a `Dataset`, a
# `DataLoader`, a random training/validation split), **validation**, **checkpoints**, and the
# whole recipe in one `fit`.
#
# You will write:
#
# 1. `numpy_fit(x, y, lr, epochs)`: batch gradient descent in numpy (a warm-up),
# 2. `ManualLinearRegression`: the line as an `nn.Module` with two `nn.Parameter`s,
# 3. `make_train_step(model, loss_fn, optimizer)`: one training step for any model,
# 4. `CustomDataset`: a `Dataset` over two tensors,
# 5. `make_loaders(x, y, ...)`: a random training/validation split and its `DataLoader`s,
# 6. `fit(...)`: training, validation and checkpoints in one function.
#
# As everywhere in the course, leave the tensors and arrays you are given unchanged (no
# in-place operations on them), and keep your tensors on their device: some checks give your
# code tensors on PyTorch's `meta` device, a stand-in for a GPU, to see device mistakes on
# any machine.

# %% nbgrader={"grade": false, "grade_id": "locked_01", "locked": true, "schema_version": 3, "solution": false}
import numpy as np
import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset, random_split

from autograder import check, check_chapter, default_device, needs, pick
from autograder import loss_curve, progress

np.set_printoptions(precision=4, suppress=True)
device = default_device()
print("device:", device)

# %% [markdown]
# ## 1. The data
#
# One hundred points on the line $y = 1 + 2x$, with a little Gaussian noise (standard
# deviation 0.1), so the fit is not trivially exact. The **validation** set is never used to
# fit: it is how we find out whether the model learned the line or only memorised its
# training points. Why shuffle before splitting into 80 training and 20 validation points?
# Real files are often sorted (by date, by class); the first 80 rows of a sorted file would
# show the model one part of the problem and validate it on another.

# %%
np.random.seed(42)
x = np.random.rand(100, 1)
y = 1 + 2 * x + 0.1 * np.random.randn(100, 1)

idx = np.arange(100)
np.random.shuffle(idx)
train_idx, val_idx = idx[:80], idx[80:]
x_train, y_train = x[train_idx], y[train_idx]
x_val, y_val = x[val_idx], y[val_idx]

fig, ax = plt.subplots(1, 2, figsize=(8, 3), sharey=True)
ax[0].scatter(x_train, y_train, s=10)
ax[0].set_title("training set (80 points)")
ax[1].scatter(x_val, y_val, s=10, color="tab:orange")
ax[1].set_title("validation set (20 points)")
for a_ in ax:
    a_.set_xlabel("x")
ax[0].set_ylabel("y")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 2. Gradient descent by hand, in numpy (a recap of chapter 01)
#
# The loss is the **mean squared error** over the $N$ training points, and its partial
# derivatives say which way is uphill for each parameter:
#
# $$L(a, b) = \frac1N \sum_i (a + b x_i - y_i)^2, \qquad
#   \frac{\partial L}{\partial a} = \frac2N \sum_i (a + b x_i - y_i), \qquad
#   \frac{\partial L}{\partial b} = \frac2N \sum_i x_i\,(a + b x_i - y_i)$$
#
# One **epoch** of *batch* gradient descent uses all the training points to compute both
# gradients, then moves both parameters a step `lr` (the learning rate) downhill:
# $a \leftarrow a - \text{lr}\,\partial L/\partial a$, and likewise $b$. Both gradients are
# computed *before* either parameter changes: they describe the slope of the loss at one
# point $(a, b)$. The numbers of the first step, from $a = b = 0$:

# %%
a0, b0 = 0.0, 0.0
error0 = (a0 + b0 * x_train) - y_train
print(f"loss at a = b = 0: {np.mean(error0 ** 2):.4f}")
print(f"dL/da = {2 * error0.mean():.4f}, dL/db = {2 * (x_train * error0).mean():.4f}")
print("both are negative: increasing a and b lowers the loss")


# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_02", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 1 · `numpy_fit(x, y, lr, epochs)` (2 points)
#
# `x` and `y` are numpy float64 arrays of shape `(N, 1)`. Start from `a = 0` and `b = 0`
# and run exactly `epochs` epochs of batch gradient descent on the mean squared error,
# with learning rate `lr`, updating `a` and `b` together as above. Return the pair
# `(a, b)` as Python floats (a numpy array holding one number is accepted too).
# numpy only: no torch in this function. Do not modify `x` and `y` (not even their shape).

# %% nbgrader={"grade": false, "grade_id": "numpy_fit", "locked": false, "schema_version": 3, "solution": true}
def numpy_fit(x, y, lr, epochs):
    """Batch gradient descent on the MSE of the line a + b x, from a = b = 0."""
    ### BEGIN SOLUTION
    a, b = 0.0, 0.0
    for _ in range(epochs):
        error = (a + b * x) - y
        a_grad = 2 * error.mean()
        b_grad = 2 * (x * error).mean()
        a = a - lr * a_grad
        b = b - lr * b_grad
    ### END SOLUTION
    return float(a), float(b)


# %% nbgrader={"grade": true, "grade_id": "test_numpy_fit", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# Two points, (0, 1) and (1, 3): one epoch from a = b = 0 with lr = 0.5.
# error = [-1, -3]; dL/da = 2 * mean(error) = -4; dL/db = 2 * mean(x * error) = -3.
a_t, b_t = numpy_fit(np.array([[0.0], [1.0]]), np.array([[1.0], [3.0]]), lr=0.5, epochs=1)
assert np.size(a_t) == 1 and np.size(b_t) == 1, "return two numbers: (float(a), float(b))"
a_t, b_t = float(np.squeeze(a_t)), float(np.squeeze(b_t))
assert np.isclose(a_t, 2.0), f"after one epoch a = 0 - 0.5 * (-4) = 2.0, got {a_t}"
assert np.isclose(b_t, 1.5), f"after one epoch b = 0 - 0.5 * (-3) = 1.5, got {b_t}"
a_t, b_t = numpy_fit(np.array([[0.0], [1.0]]), np.array([[1.0], [3.0]]), lr=0.5, epochs=0)
assert float(np.squeeze(a_t)) == 0.0 and float(np.squeeze(b_t)) == 0.0, "zero epochs must leave a = b = 0"
check("ch08.numpy_fit", numpy_fit)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch08.numpy_fit", numpy_fit)
### END HIDDEN TESTS

# %% [markdown]
# ### Did it work? Ask scikit-learn
#
# A straight line under the squared error has an exact solution (least squares), which
# scikit-learn's `LinearRegression` computes directly, without any gradient descent. After
# 1000 epochs at `lr = 0.1`, gradient descent from `a = b = 0` agrees with it to about six
# decimals: **a ≈ 1.023541, b ≈ 1.968964** on this data (not exactly 1 and 2: the noise of 80
# points moves the best line a little).

# %%
from sklearn.linear_model import LinearRegression

with needs("numpy_fit"):
    a_np, b_np = numpy_fit(x_train, y_train, lr=0.1, epochs=1000)
    reg = LinearRegression().fit(x_train, y_train)
    print(f"numpy gradient descent: a = {a_np:.6f}, b = {b_np:.6f}")
    print(f"scikit-learn:           a = {reg.intercept_[0]:.6f}, b = {reg.coef_[0, 0]:.6f}")

    # the loss along the way: the fit after 0, 10, 20, ... epochs
    checkpoints = range(0, pick(full=1001, quick=301), 10)
    path = [numpy_fit(x_train, y_train, 0.1, n) for n in progress(checkpoints, desc="epochs")]
    mse = [np.mean((a_ + b_ * x_train - y_train) ** 2) for a_, b_ in path]
    ax = loss_curve(mse, title="numpy gradient descent, lr = 0.1", xlabel="epoch / 10")
    plt.show()

# %% [markdown]
# ## 3. The same in PyTorch, one tool at a time (a recap)
#
# **Tensors on a device** (chapter 02). numpy makes float64, PyTorch models work in float32:
# `.float()` converts, `.to(device)` moves. Parameters are *created* on the device
# (`torch.randn(1, device=device, requires_grad=True)`): `torch.randn(1,
# requires_grad=True).to(device)` is, on a GPU, the result of an operation, not a **leaf**,
# and autograd fills `.grad` only for leaves.
#
# **Autograd** (chapter 03) computes $\partial L/\partial a$ and $\partial L/\partial b$ from
# the loss alone: the same numbers as the formulas of section 2.
#
# A note for reading older code: before PyTorch 0.4 (2018), a tensor had to be wrapped in
# `torch.autograd.Variable(t, requires_grad=True)` for autograd to track it. `Variable` is
# obsolete: every tensor can require gradients (`torch.randn(1, requires_grad=True)`,
# `t.requires_grad_()`), and `Variable(t)` now simply returns a tensor.

# %%
x_train_t = torch.as_tensor(x_train).float().to(device)
y_train_t = torch.as_tensor(y_train).float().to(device)
print(type(x_train), x_train.dtype, "->", type(x_train_t), x_train_t.dtype, x_train_t.device)

torch.manual_seed(42)
a = torch.randn(1, requires_grad=True, device=device)
b = torch.randn(1, requires_grad=True, device=device)
moved = torch.randn(1, requires_grad=True).to("cuda" if torch.cuda.is_available() else "cpu")
print("created on the device: is_leaf =", a.is_leaf,
      "| created, then moved: is_leaf =", moved.is_leaf, "(False on a GPU)")

error = a + b * x_train_t - y_train_t
(error ** 2).mean().backward()
print("autograd:", a.grad.item(), b.grad.item())
print("by hand: ", (2 * error.mean()).item(), (2 * (x_train_t * error).mean()).item())

# %% [markdown]
# **Updating the parameters** (chapter 03). Of the three ways to write
# $a \leftarrow a - \text{lr}\,\partial L/\partial a$, two fail: `a = a - lr * a.grad` makes
# a new tensor that is not a leaf, so the next `backward()` leaves its `.grad` at `None`; and
# `a -= lr * a.grad` changes in place a leaf that autograd records, which is forbidden. Only
# the in-place update inside `torch.no_grad()` works, and since `backward()` *adds* to
# `.grad`, the gradients are reset after each step.

# %%
import warnings

lr = 0.1
a1 = torch.randn(1, requires_grad=True, device=device)
((a1 + 2 * x_train_t - y_train_t) ** 2).mean().backward()
a1 = a1 - lr * a1.grad                       # way 1: a new tensor, not a leaf
((a1 + 2 * x_train_t - y_train_t) ** 2).mean().backward()
with warnings.catch_warnings():              # PyTorch warns that a1.grad of a non-leaf is empty:
    warnings.simplefilter("ignore")          # that is the very point here
    print("way 1: after the next backward, a1.grad is", a1.grad)

a2 = torch.randn(1, requires_grad=True, device=device)
((a2 + 2 * x_train_t - y_train_t) ** 2).mean().backward()
try:
    a2 -= lr * a2.grad                       # way 2: in place, while recorded
except RuntimeError as err:
    print("way 2: RuntimeError:", str(err).split(".")[0])

torch.manual_seed(42)                        # way 3: in place, not recorded
a = torch.randn(1, requires_grad=True, device=device)
b = torch.randn(1, requires_grad=True, device=device)
n_epochs = pick(full=1000, quick=200)
for epoch in progress(range(n_epochs), desc="epochs"):
    loss = ((a + b * x_train_t - y_train_t) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        a -= lr * a.grad
        b -= lr * b.grad
    a.grad.zero_()
    b.grad.zero_()
print(f"way 3: a = {a.item():.4f}, b = {b.item():.4f} after {n_epochs} epochs")

# %% [markdown]
# `torchviz.make_dot` draws what autograd recorded for one loss: the blue boxes are the
# leaves `a` and `b` that will receive gradients, the grey boxes the backward functions of
# each operation. `x` and `y` do not appear: they do not require gradients, so nothing flows
# into them.

# %%
from torchviz import make_dot

make_dot(((a + b * x_train_t - y_train_t) ** 2).mean(), params={"a": a, "b": b})

# %% [markdown]
# **An optimizer and a loss module** (chapters 05 and 06) take over the last hand-written
# lines: `optimizer.step()` is way 3 for every parameter it was given, `optimizer.zero_grad()`
# the reset, `nn.MSELoss()` the mean squared error as an object. Swapping SGD for Adam, or
# the MSE for another loss, now changes one line.

# %%
torch.manual_seed(42)
a = torch.randn(1, requires_grad=True, device=device)
b = torch.randn(1, requires_grad=True, device=device)
optimizer = torch.optim.SGD([a, b], lr=lr)
loss_fn = nn.MSELoss()
losses = []
for epoch in progress(range(n_epochs), desc="epochs"):
    loss = loss_fn(a + b * x_train_t, y_train_t)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    losses.append(loss.item())
print(f"a = {a.item():.4f}, b = {b.item():.4f}")
loss_curve(losses, title="SGD with nn.MSELoss", xlabel="epoch")
plt.show()


# %% [markdown]
# ## 4. The model as a module (a recap of chapters 05 and 07)
#
# Two loose tensors and a formula become an `nn.Module`: parameters are attributes wrapped in
# `nn.Parameter`, which *registers* them, so that `model.parameters()` finds them for the
# optimizer, `model.to(device)` moves them and `model.state_dict()` saves them; the formula
# goes in `forward`.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_03", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 2 · `ManualLinearRegression(nn.Module)` (2 points)
#
# Write the class: `__init__(self)` (no arguments besides self) registers exactly two
# parameters, named `a` and `b`, each made by `nn.Parameter(torch.randn(1))` (shape
# `(1,)`, float32, `a` first); `forward(self, x)` returns `a + b * x` for a tensor `x` of
# any shape, in the graph (no `.item()`), without changing `x`. Do not move anything to a
# device inside the class: the caller does `model.to(device)`.

# %% nbgrader={"grade": false, "grade_id": "ManualLinearRegression", "locked": false, "schema_version": 3, "solution": true}
class ManualLinearRegression(nn.Module):
    def __init__(self):
        super().__init__()
        ### BEGIN SOLUTION
        self.a = nn.Parameter(torch.randn(1))
        self.b = nn.Parameter(torch.randn(1))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.a + self.b * x
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_ManualLinearRegression", "locked": true, "points": 2, "schema_version": 3, "solution": false}
model_t = ManualLinearRegression()
names_t = [name for name, _ in model_t.named_parameters()]
assert names_t == ["a", "b"], f"the parameters must be registered as ['a', 'b'], got {names_t}"
assert model_t.a.shape == (1,), f"a must have shape (1,), got {tuple(model_t.a.shape)}"
with torch.no_grad():
    model_t.a.fill_(1.0)
    model_t.b.fill_(2.0)
out_t = model_t(torch.tensor([[0.0], [1.0], [3.0]]))
assert torch.allclose(out_t, torch.tensor([[1.0], [3.0], [7.0]])), f"with a=1, b=2: expected [[1], [3], [7]], got {out_t}"
check("ch08.ManualLinearRegression", ManualLinearRegression)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch08.ManualLinearRegression", ManualLinearRegression)
### END HIDDEN TESTS

# %% [markdown]
# Training it changes two things in the loop: the optimizer gets `model.parameters()`, and
# `model.train()` puts the model in training mode (it matters for Dropout or BatchNorm; our
# line has neither, but the habit costs nothing). A line is also exactly a linear layer with
# one input and one output, `nn.Linear(1, 1)`: its `bias` is our `a`, its `weight` our `b`.
# A module holding it registers its parameters under dotted names, and a model that only
# chains layers needs no class at all: `nn.Sequential`.

# %%
with needs("ManualLinearRegression"):
    torch.manual_seed(42)
    model = ManualLinearRegression().to(device)
    print("before:", model.state_dict())
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for epoch in progress(range(n_epochs), desc="epochs"):
        model.train()
        loss = loss_fn(model(x_train_t), y_train_t)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    print("after: ", model.state_dict())


class LayerLinearRegression(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(1, 1)

    def forward(self, x):
        return self.linear(x)


print(list(LayerLinearRegression().state_dict()), list(nn.Sequential(nn.Linear(1, 1)).state_dict()))


# %% [markdown]
# ## 5. One training step for any model
#
# The body of the loop (forward, loss, backward, step, reset) is the same whatever the model,
# loss or optimizer. A **factory** writes it once: it takes the three and returns a function
# that performs one step on a batch `(x, y)`. The inner function remembers `model`,
# `loss_fn` and `optimizer` (a *closure*), so the loop only passes data.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_04", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 3 · `make_train_step(model, loss_fn, optimizer)` (2 points)
#
# Return a function `train_step(x, y)` that: puts the model in training mode
# (`model.train()`), computes the prediction and the loss `loss_fn(prediction, y)`,
# computes the gradients, updates the parameters with `optimizer.step()`, and returns the
# loss as a Python float (`loss.item()`). The gradients must not pile up from one step to
# the next: reset them with `optimizer.zero_grad()` (after the step, or before
# `backward()`). It must work for any model, loss function and optimizer it is given, and
# leave the batch `x`, `y` unchanged.

# %% nbgrader={"grade": false, "grade_id": "make_train_step", "locked": false, "schema_version": 3, "solution": true}
def make_train_step(model, loss_fn, optimizer):
    """A function that performs one training step on a batch and returns its loss."""
    ### BEGIN SOLUTION
    def train_step(x, y):
        model.train()
        yhat = model(x)
        loss = loss_fn(yhat, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss.item()
    ### END SOLUTION
    return train_step


# %% nbgrader={"grade": true, "grade_id": "test_make_train_step", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# nn.Linear(1, 1) with weight 0 and bias 0 on the points (0, 1) and (1, 3), SGD lr 0.5:
# the loss is mean(1, 9) = 5; the gradients are d/dbias = -4 and d/dweight = -3.
lin_t = nn.Linear(1, 1)
with torch.no_grad():
    lin_t.weight.zero_()
    lin_t.bias.zero_()
step_t = make_train_step(lin_t, nn.MSELoss(), torch.optim.SGD(lin_t.parameters(), lr=0.5))
assert callable(step_t), "make_train_step must return a function"
loss_t = step_t(torch.tensor([[0.0], [1.0]]), torch.tensor([[1.0], [3.0]]))
assert isinstance(loss_t, float), f"train_step must return a Python float (loss.item()), got {type(loss_t)}"
assert np.isclose(loss_t, 5.0), f"the loss before the update is 5.0, got {loss_t}"
assert np.isclose(lin_t.bias.item(), 2.0) and np.isclose(lin_t.weight.item(), 1.5), \
    f"after one step expected bias 2.0, weight 1.5; got {lin_t.bias.item()}, {lin_t.weight.item()}"
# a second step from bias 2, weight 1.5: loss 0.625, gradients 1.5 and 0.5 (not added to the first ones)
loss_t = step_t(torch.tensor([[0.0], [1.0]]), torch.tensor([[1.0], [3.0]]))
assert np.isclose(loss_t, 0.625), f"the loss of the second step is 0.625, got {loss_t}"
assert np.isclose(lin_t.bias.item(), 1.25) and np.isclose(lin_t.weight.item(), 1.25), \
    ("after two steps expected bias 1.25, weight 1.25; got "
     f"{lin_t.bias.item()}, {lin_t.weight.item()}: do the gradients pile up (zero_grad)?")
check("ch08.make_train_step", make_train_step)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch08.make_train_step", make_train_step)
### END HIDDEN TESTS

# %% [markdown]
# The training loop has shrunk to one line:

# %%
with needs("make_train_step"):
    torch.manual_seed(42)
    model = nn.Sequential(nn.Linear(1, 1)).to(device)
    train_step = make_train_step(model, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=lr))
    losses = [train_step(x_train_t, y_train_t) for _ in progress(range(n_epochs), desc="epochs")]
    print(model.state_dict())


# %% [markdown]
# ## 6. The data pipeline: `Dataset` and `DataLoader` (new)
#
# So far the whole training set went through the model at once. Real data sets do not fit in
# memory, and updating after every few examples (a **mini-batch**) learns more per pass over
# the data. PyTorch splits the job in two. A `Dataset` says how many examples there are
# (`__len__`) and what example `i` is (`__getitem__`); a `DataLoader` draws batches from it,
# in a new random order every epoch if asked (`shuffle=True`), and stacks the examples of a
# batch into tensors.
#
# The names matter: Python's indexing `ds[i]` calls the method `__getitem__`. Some tutorials
# misspell it `__get_item__`; such a class has no indexing of its own, and `ds[i]` then
# reaches `Dataset`'s placeholder, which only raises an error:

# %%
class Misspelled(Dataset):
    def __init__(self, x):
        self.x = x

    def __get_item__(self, index):           # not the name Python looks for
        return self.x[index]

    def __len__(self):
        return len(self.x)


try:
    Misspelled(torch.arange(3))[0]
except NotImplementedError as err:
    print("NotImplementedError:", err or "Dataset.__getitem__ was never written")


# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_05", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 4 · `CustomDataset(x_tensor, y_tensor)` (1 point)
#
# A subclass of `torch.utils.data.Dataset`: `__init__(self, x_tensor, y_tensor)` keeps the
# two tensors (same first dimension, any dtype and device); `__getitem__(self, index)`
# returns the pair `(x_tensor[index], y_tensor[index])`; `__len__(self)` returns the number
# of examples. Keep the tensors as they are: no copies to another dtype or device (the checks
# also give it tensors on the `meta` device, a stand-in for a GPU), and no changes to them.

# %% nbgrader={"grade": false, "grade_id": "CustomDataset", "locked": false, "schema_version": 3, "solution": true}
class CustomDataset(Dataset):
    def __init__(self, x_tensor, y_tensor):
        ### BEGIN SOLUTION
        self.x = x_tensor
        self.y = y_tensor
        ### END SOLUTION

    def __getitem__(self, index):
        ### BEGIN SOLUTION
        return (self.x[index], self.y[index])
        ### END SOLUTION

    def __len__(self):
        ### BEGIN SOLUTION
        return len(self.x)
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_CustomDataset", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ds_t = CustomDataset(torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), torch.tensor([7, 8, 9]))
assert len(ds_t) == 3, f"3 examples of 2 features: len must be 3, got {len(ds_t)}"
x1_t, y1_t = ds_t[1]
assert torch.equal(x1_t, torch.tensor([3.0, 4.0])) and int(y1_t) == 8, f"ds[1] must be ([3., 4.], 8), got {ds_t[1]}"
check("ch08.CustomDataset", CustomDataset)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch08.CustomDataset", CustomDataset)
### END HIDDEN TESTS

# %% [markdown]
# PyTorch ships exactly this class: `TensorDataset(x, y)` (it takes any number of tensors).
# A `DataLoader` over it yields mini-batches; with `shuffle=True` the batches differ from
# epoch to epoch, and the last batch holds what is left over:

# %%
x_train_cpu = torch.as_tensor(x_train).float()
y_train_cpu = torch.as_tensor(y_train).float()
train_data = TensorDataset(x_train_cpu, y_train_cpu)
print(train_data[0], len(train_data))

loader = DataLoader(train_data, batch_size=16, shuffle=True)
print("batches per epoch:", len(loader), "| sizes:", [len(xb) for xb, _ in loader])
for epoch in range(2):
    xb, yb = next(iter(loader))
    print(f"epoch {epoch}: the first batch starts with x = {xb[:3, 0].numpy().round(3)}")


# %% [markdown]
# ## 7. A random split into two loaders (new)
#
# `random_split(dataset, [n_train, n_val], generator=...)` splits a data set at random into
# two subsets that share no example. Each subset gets its own loader: the training loader
# shuffles, the validation loader need not (the order of the validation examples does not
# change their mean loss). A generator seeded with `seed` makes the split the same at every
# run, so results can be reproduced and compared.
#
# Why build the loaders from *one* `TensorDataset` of all the data? Because splitting `x`
# and `y` separately, each in its own random order, would pair each `x` with someone else's `y`.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_06", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 5 · `make_loaders(x, y, train_frac=0.8, batch_size=16, seed=42)` (2 points)
#
# Return `(train_loader, val_loader)`: put `x` and `y` (tensors with the same first
# dimension `N`) in one `TensorDataset`, split it with `random_split` into
# `n_train = int(train_frac * N)` training examples and the `N - n_train` others, with
# `generator=torch.Generator().manual_seed(seed)` (so the same seed gives the same split);
# the training loader shuffles (`shuffle=True`), the validation loader does not; both use
# `batch_size`. Leave `x` and `y` unchanged.

# %% nbgrader={"grade": false, "grade_id": "make_loaders", "locked": false, "schema_version": 3, "solution": true}
def make_loaders(x, y, train_frac=0.8, batch_size=16, seed=42):
    """Training and validation DataLoaders over a random split of (x, y)."""
    ### BEGIN SOLUTION
    dataset = TensorDataset(x, y)
    n_train = int(train_frac * len(dataset))
    train_set, val_set = random_split(dataset, [n_train, len(dataset) - n_train],
                                      generator=torch.Generator().manual_seed(seed))
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    val_loader = DataLoader(val_set, batch_size=batch_size)
    ### END SOLUTION
    return train_loader, val_loader


# %% nbgrader={"grade": true, "grade_id": "test_make_loaders", "locked": true, "points": 2, "schema_version": 3, "solution": false}
x_all_t = torch.arange(10.0).unsqueeze(1)
tl_t, vl_t = make_loaders(x_all_t, 2 * x_all_t, train_frac=0.7, batch_size=4, seed=0)
assert len(tl_t.dataset) == 7 and len(vl_t.dataset) == 3, \
    f"10 examples at 70/30: expected 7 and 3, got {len(tl_t.dataset)} and {len(vl_t.dataset)}"
seen_t = torch.cat([xb for xb, _ in tl_t] + [xb for xb, _ in vl_t]).flatten().sort().values
assert torch.equal(seen_t, x_all_t.flatten()), "every example must be in exactly one of the two loaders"
assert all(torch.equal(yb, 2 * xb) for xb, yb in tl_t), "each y must stay paired with its x"
check("ch08.make_loaders", make_loaders)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch08.make_loaders", make_loaders)
### END HIDDEN TESTS

# %% [markdown]
# The same seed gives the same split, another seed another one; together the two loaders
# serve every example exactly once per epoch:

# %%
with needs("make_loaders"):
    x_all = torch.as_tensor(x).float()
    y_all = torch.as_tensor(y).float()

    def validation_rows(seed):
        _, vl = make_loaders(torch.arange(100.0).unsqueeze(1), y_all, seed=seed)
        return sorted(int(i) for xb, _ in vl for i in xb[:, 0])

    print("seed 42:", validation_rows(42)[:8], "...")
    print("seed 42:", validation_rows(42)[:8], "... (again)")
    print("seed 7: ", validation_rows(7)[:8], "...")


# %% [markdown]
# ## 8. The whole recipe in one `fit`: training, validation, checkpoints
#
# Each epoch now has two phases. **Training**: every batch of the training loader goes
# through `train_step`. **Validation**: every batch of the validation loader goes
# through the model to measure the loss, and nothing else. Two switches make validation
# honest and cheap:
#
# * `model.eval()`: layers like Dropout and BatchNorm switch to their evaluation
#   behaviour (and `model.train()` must switch them back before the next epoch's training);
# * `with torch.no_grad():` autograd records nothing, since no gradient is needed.
#
# The loss of an epoch is the mean over its *examples*: the last batch may be smaller
# than the others, so each batch's mean loss is weighted by its size.
#
# Training can run for hours, and the last epoch is not always the best one: the
# validation loss may rise again when the model starts to memorise its training set (or
# when a large step overshoots). So `fit` also keeps a **checkpoint** of the best epoch so
# far: a file with everything needed to use the model, or to resume training from there
# (chapter 06 showed resuming): the model's `state_dict()`, the optimizer's, the epoch and
# its validation loss. `torch.save` writes such a dictionary of tensors and numbers;
# `torch.load(path, map_location=..., weights_only=True)` reads it back on any device.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_07", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 6 · `fit(model, train_loader, val_loader, loss_fn, optimizer, epochs, device="cpu", checkpoint_path=None)` (3 points)
#
# For each of the `epochs` epochs:
#
# 1. **train** on every batch of `train_loader`, one step per batch (you may use
#    `make_train_step`), with the model in training mode;
# 2. **validate**: evaluate on every batch of `val_loader` in evaluation mode
#    (`model.eval()`) and under `torch.no_grad()`;
# 3. record the epoch's training loss and validation loss, each the mean loss per example,
#    `sum(batch loss * batch size) / number of examples`. The training loss is either the
#    running mean of the losses of the training batches as they are trained on, or (if you
#    prefer) a separate pass over `train_loader` after the epoch's training, in evaluation
#    mode under `torch.no_grad()` like the validation;
# 4. if `checkpoint_path` is given and the epoch's validation loss is lower than every
#    earlier one, save `{"epoch": e, "model": model.state_dict(), "optimizer":
#    optimizer.state_dict(), "val_loss": v}` there with `torch.save`, where `e` is the
#    number of epochs done so far (1 after the first) and `v` the validation loss (a float).
#
# Move every batch to `device` (`xb.to(device)`) before using it, and keep the model on
# `device` throughout (do not call `model.cpu()` to save: a `state_dict` can be saved
# from any device). Return the pair of lists `(train_losses, val_losses)`, one float per
# epoch each. The checks record the mode (training or evaluation, gradients or not) of
# **every forward pass** through the model, so make no forward passes other than those
# above. A progress bar is welcome.

# %% nbgrader={"grade": false, "grade_id": "fit", "locked": false, "schema_version": 3, "solution": true}
def fit(model, train_loader, val_loader, loss_fn, optimizer, epochs, device="cpu", checkpoint_path=None):
    """Train for `epochs`, validating after each and keeping the best epoch's checkpoint;
    returns (train_losses, val_losses)."""
    ### BEGIN SOLUTION
    train_step = make_train_step(model, loss_fn, optimizer)
    train_losses, val_losses = [], []
    for epoch in progress(range(epochs), desc="epochs"):
        total, count = 0.0, 0
        for xb, yb in train_loader:
            xb, yb = xb.to(device), yb.to(device)
            total += train_step(xb, yb) * len(xb)
            count += len(xb)
        train_losses.append(total / count)

        model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for xb, yb in val_loader:
                xb, yb = xb.to(device), yb.to(device)
                total += loss_fn(model(xb), yb).item() * len(xb)
                count += len(xb)
        val_losses.append(total / count)

        if checkpoint_path is not None and val_losses[-1] == min(val_losses):
            torch.save({"epoch": epoch + 1, "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(), "val_loss": val_losses[-1]},
                       checkpoint_path)
    ### END SOLUTION
    return train_losses, val_losses


# %% nbgrader={"grade": true, "grade_id": "test_fit", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# A tiny example that does not depend on your make_train_step: with lr = 0 nothing is
# learned, and a stand-in train step (it only measures) replaces yours for a moment.
# Weight 0 and bias 0 predict 0 everywhere, so each loss is the mean of y ** 2 over the
# examples: 5 training points (1, 1, 1, 2, 2) in batches of 2 give (1 + 1 + 1 + 4 + 4) / 5 = 2.2
# (the mean of the batch means, (1 + 2.5 + 4) / 3 = 2.5, would be wrong), and the validation
# points (3, 3) give 9.
lin_t = nn.Linear(1, 1)
with torch.no_grad():
    lin_t.weight.zero_()
    lin_t.bias.zero_()
x5_t, y5_t = torch.zeros(5, 1), torch.tensor([[1.0], [1.0], [1.0], [2.0], [2.0]])
tl_t = DataLoader(TensorDataset(x5_t, y5_t), batch_size=2)
vl_t = DataLoader(TensorDataset(torch.zeros(2, 1), torch.full((2, 1), 3.0)), batch_size=2)


def _measuring_step(model, loss_fn, optimizer):
    def step(x, y):
        model.train()
        with torch.no_grad():
            return loss_fn(model(x), y).item()
    return step


_your_step = globals().get("make_train_step")
make_train_step = _measuring_step
try:
    tr_t, va_t = fit(lin_t, tl_t, vl_t, nn.MSELoss(), torch.optim.SGD(lin_t.parameters(), lr=0.0), epochs=2)
finally:
    make_train_step = _your_step
assert len(tr_t) == 2 and len(va_t) == 2, f"2 epochs: 2 losses each, got {len(tr_t)} and {len(va_t)}"
assert all(isinstance(v, float) for v in tr_t + va_t), "every loss must be a Python float"
assert np.allclose(tr_t, [2.2, 2.2]), f"the training loss per example is 2.2 at each epoch, got {tr_t}"
assert np.allclose(va_t, [9.0, 9.0]), f"the validation loss per example is 9.0 at each epoch, got {va_t}"
check("ch08.fit", fit)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch08.fit", fit)
### END HIDDEN TESTS

# %% [markdown]
# ## 9. Everything together
#
# The data as tensors, a random 80/20 split, mini-batches of 16, `nn.Linear(1, 1)`, SGD
# and the MSE, with a checkpoint of the best epoch. Compare the learned bias and weight
# with scikit-learn's line (fitted on the training points of *this* split, so the numbers
# differ slightly from section 2).

# %%
import os
import tempfile

with needs("fit", "make_loaders", "make_train_step"):
    torch.manual_seed(42)
    x_all = torch.as_tensor(x).float()
    y_all = torch.as_tensor(y).float()
    train_loader, val_loader = make_loaders(x_all, y_all, train_frac=0.8, batch_size=16, seed=42)

    model = nn.Sequential(nn.Linear(1, 1)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    best_path = os.path.join(tempfile.mkdtemp(), "best.pt")
    train_losses, val_losses = fit(model, train_loader, val_loader, nn.MSELoss(), optimizer,
                                   epochs=pick(full=200, quick=30), device=device,
                                   checkpoint_path=best_path)

    # the training points of this split, read in one pass (two passes would shuffle differently)
    batches = list(train_loader)
    x_split = torch.cat([xb for xb, _ in batches]).numpy()
    y_split = torch.cat([yb for _, yb in batches]).numpy()
    reg = LinearRegression().fit(x_split, y_split)
    print(f"PyTorch:      a = {model[0].bias.item():.4f}, b = {model[0].weight.item():.4f}")
    print(f"scikit-learn: a = {reg.intercept_[0]:.4f}, b = {reg.coef_[0, 0]:.4f}")
    loss_curve({"training": train_losses, "validation": val_losses},
               title="Linear regression, mini-batch SGD", xlabel="epoch")
    plt.show()

# %% [markdown]
# The checkpoint holds the best epoch. Loading it is the same on any machine: `map_location`
# puts the tensors where you want them (a checkpoint saved on a GPU opens on a laptop), and
# `weights_only=True` refuses anything but tensors, numbers and containers of them, so a
# file from elsewhere cannot run code when it is loaded.

# %%
with needs("fit", "make_loaders", "make_train_step"):
    checkpoint = torch.load(best_path, map_location=device, weights_only=True)
    print("best epoch:", checkpoint["epoch"], f"validation loss {checkpoint['val_loss']:.5f}")
    restored = nn.Sequential(nn.Linear(1, 1)).to(device)
    restored.load_state_dict(checkpoint["model"])
    print("restored:", {k: round(v.item(), 4) for k, v in restored.state_dict().items()})

# %% [markdown]
# Why save `state_dict`s and not the model object? `torch.save(model, path)` works too, but
# it pickles the object: loading it needs the very class definition, importable under the
# same name, and it runs code from the file, which is why `torch.load` refuses it unless
# told `weights_only=False` (only for files you trust). A `state_dict` is only names and
# tensors: it loads anywhere, into any model with the same parameter names.

# %%
with needs("fit", "make_loaders", "make_train_step"):
    whole_path = os.path.join(tempfile.mkdtemp(), "whole.pt")
    torch.save(restored, whole_path)
    try:
        torch.load(whole_path, weights_only=True)
    except Exception as err:
        print(f"weights_only=True refuses the whole model ({type(err).__name__})")
    print("weights_only=False loads it, trusting the file:", type(torch.load(whole_path, weights_only=False)).__name__)

# %% [markdown]
# ## Check all your answers at once

# %%
check_chapter("ch08", globals());

# %% [markdown]
# ## The recipe, step by step
#
# | step | by hand | PyTorch | chapter |
# |---|---|---|---|
# | gradients | $\partial L/\partial a$ by hand | `loss.backward()` | 03 |
# | update | `a -= lr * a.grad` under `no_grad` | `optimizer.step()`, `zero_grad()` | 06 |
# | loss | `((yhat - y) ** 2).mean()` | `nn.MSELoss()` | 05 |
# | model | two tensors and a formula | `nn.Module`, `nn.Linear`, `nn.Sequential` | 05, 07 |
# | loop body | forward, loss, backward, step | `make_train_step` | 08 |
# | data | one big tensor | `Dataset`, `DataLoader`, `random_split` | 08 |
# | evaluation | none | validation under `eval()` and `no_grad()` | 08 |
# | keeping the best | none | a checkpoint of `state_dict`s, `torch.load(..., weights_only=True)` | 06, 08 |
#
# Chapter 09 takes the same recipe to a classifier of images.
