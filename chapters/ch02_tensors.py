# %% [markdown]
# # Chapter 02 · Tensors: numpy arrays that live on a device
#
# In chapter 01 every number of the network lived in a numpy array, in the computer's main
# memory, and every operation ran on the CPU. A PyTorch **tensor** is the same idea (an
# n-dimensional grid of numbers of one type) with one addition that changes everything:
# a tensor knows **which device** holds its numbers. The same line `h = x @ w1` runs on
# the CPU when `x` and `w1` live there and on a GPU when they live there.
#
# This chapter is a tour of the tensor operations every later chapter uses, in the order
# you will need them, each followed by a small exercise that uses it:
#
# 1. creating tensors, and their **dtype**;
# 2. **devices**: `.to()`, choosing a device, more than one GPU (exercise: `make_grid_tensor`);
# 3. the road between numpy and torch (shared memory!);
# 4. indexing, slicing and masks (exercise: `one_hot`);
# 5. changing shape: `reshape`/`view`, `unsqueeze`/`squeeze`, `transpose`/`permute`,
#    `contiguous` (exercise: `to_channels_first`);
# 6. `*` versus `@`, **broadcasting**, reductions with `dim` and `keepdim`, comparisons
#    (exercises: `batched_outer`, `pairwise_sq_distances`, `normalize_rows`);
# 7. in-place operations and the trailing underscore (exercise: `center_columns_`);
# 8. the two-layer network of chapter 01 again, on tensors, on whichever device its inputs
#    live on, gradients still by hand (exercise: `two_layer_step`).
#
# Each exercise is checked as in chapter 01: its test cell runs a tiny example and then the
# grader's check; `check_chapter("ch02", globals())` at the end checks them all.

# %% nbgrader={"grade": false, "grade_id": "locked_01", "locked": true, "schema_version": 3, "solution": false}
import os

import numpy as np
import torch
import matplotlib.pyplot as plt

from autograder import check, check_chapter, default_device, needs, pick
from autograder import loss_curve, progress

torch.set_printoptions(precision=4, sci_mode=False)

# %% [markdown]
# ## 1. Creating tensors
#
# There are three ways to get a tensor: from Python data, from a numpy array, or from a
# factory function that fills a new tensor with a pattern. `torch.tensor` copies the data
# you give it and guesses a dtype from it: Python floats become `float32` (not `float64` as
# in numpy), Python ints become `int64`.

# %%
a = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
print(a, a.shape, a.dtype, a.device)

print(torch.zeros(2, 3))                 # filled with 0
print(torch.ones(2, 3, dtype=torch.int64))
print(torch.full((2, 2), 7.5))           # filled with one value
print(torch.arange(0, 10, 3))            # like range(): the end is excluded
print(torch.linspace(0, 1, 5))           # 5 points, both ends included
print(torch.rand(2, 2), torch.randn(2, 2), sep="\n")  # uniform on [0, 1), standard normal
print(torch.zeros_like(a))               # same shape, dtype AND device as a

# %% [markdown]
# The `*_like` functions (`zeros_like`, `ones_like`, `randn_like`, `full_like`...) are the
# habit to build: they copy shape, dtype **and device** from an existing tensor, so code
# written with them keeps working when its inputs move to a GPU or change precision.
#
# ### dtype and casting
#
# Deep learning mostly computes in `float32`: half the memory of `float64`, and GPUs are
# many times faster at it. `float64` is for checking (all of this course's graders use it
# as the reference). Integer tensors (`int64`) hold indices and class labels, `bool`
# tensors hold masks. Convert with `.to(dtype)` or the shortcuts `.float()`, `.double()`,
# `.long()`:

# %%
b = torch.arange(4)
print(b.dtype, b.float().dtype, b.to(torch.float64).dtype)
print(torch.tensor([1.7, -1.7]).long())  # casting to an integer type truncates toward zero
print(torch.tensor([1, 2]) / 2)          # true division always gives a float
print((torch.tensor([1.0]) + torch.tensor([1.0], dtype=torch.float64)).dtype)  # promotion

# %% [markdown]
# The last line shows **type promotion**: an operation between `float32` and `float64`
# gives `float64`. That is convenient, and a classic source of silent slowdowns (a float64
# constant tensor turns a whole float32 network into float64) and of checks failing with
# "dtype float64 expected, got float32". Create tensors with `dtype=x.dtype` and the
# result has the dtype of your input.

# %% [markdown]
# ## 2. Devices
#
# Every tensor has a `device`: `cpu`, or `cuda` (an NVIDIA GPU), or `mps` (Apple).
# An operation runs where its inputs live, and all its inputs must live on the same
# device. `.to(device)` returns a copy on another device (or the tensor itself if it is
# already there). The course picks the fastest device present:

# %%
device = default_device()
print("this notebook computes on:", device)

x_cpu = torch.randn(3, 2)
x_dev = x_cpu.to(device)                 # a copy on the device (the same tensor if it is the CPU)
print(x_dev.device, (x_dev @ x_dev.T).device)   # results stay where the inputs live
print(torch.zeros(2, device=device))     # or create it there directly: no copy at all

# %% [markdown]
# Two rules follow, and every exercise below obeys them:
#
# * **create new tensors on the device of the inputs**: `torch.zeros(n, device=x.device,
#   dtype=x.dtype)`, or `torch.zeros_like(x)`. A tensor created without `device=` lives on
#   the CPU, and mixing it with a CUDA tensor raises *"Expected all tensors to be on the
#   same device"*;
# * **moving data is slow**: copying between CPU and GPU costs far more than the
#   arithmetic on it. Move the data once, compute there, bring back only what you print.
#
# ### Choosing a device yourself
#
# `default_device()` is the course's own helper. In your own code you will meet these
# idioms (the cell below runs on any machine, with or without a GPU):
#
# * `torch.cuda.is_available()` and `torch.cuda.device_count()`: is there an NVIDIA GPU,
#   and how many;
# * `"cuda"` means the *current* GPU (the first one, unless you change it); `"cuda:1"` (or
#   `torch.device("cuda", 1)`) names the second one. A name is only a name: creating
#   `torch.device("cuda:1")` needs no GPU, using it does;
# * `torch.accelerator` (recent PyTorch) asks the same questions without naming the kind
#   of hardware: `torch.accelerator.is_available()`, `torch.accelerator.current_accelerator()`
#   (a `cuda`, `mps`, `xpu`... device, or `None`), so one line picks "the GPU, whatever
#   make it is, else the CPU";
# * the environment variable `CUDA_VISIBLE_DEVICES` decides which GPUs a process may see at
#   all, and renumbers them: started with `CUDA_VISIBLE_DEVICES=2,3 python train.py`, the
#   program sees two GPUs, `cuda:0` (the machine's third) and `cuda:1`. It must be set
#   before the process first touches CUDA (in the shell, or at the very top of a script);
#   setting it later in a running notebook changes nothing.

# %%
print("CUDA GPUs visible to this process:", torch.cuda.device_count())
print("CUDA_VISIBLE_DEVICES =", os.environ.get("CUDA_VISIBLE_DEVICES", "(not set: every GPU)"))
second_gpu = torch.device("cuda:1")            # just a name: no GPU needed to write it down
print(second_gpu, second_gpu.type, second_gpu.index)

accelerator = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else None
chosen = accelerator if accelerator is not None else torch.device("cpu")
print("an accelerator if there is one, else the CPU:", chosen)

# %% [markdown]
# ### More than one GPU: `DataParallel` and `DistributedDataParallel`
#
# One model can be trained on several GPUs at once by splitting each **batch**: every GPU
# holds a full copy of the model, computes the loss and the gradients on its share of the
# examples, and the gradients are averaged before the update, so all copies stay equal.
# PyTorch has two wrappers that do this for a model (`nn` arrives in chapter 05):
#
# * `torch.nn.DataParallel(model)`: one Python process drives all the GPUs. At every
#   forward pass it copies the model to each GPU, cuts the batch into pieces along
#   dimension 0, runs the pieces in threads and gathers the outputs on the first GPU.
#   One line to add, but slow (the copying and Python's threads), and PyTorch's own
#   documentation recommends the other one;
# * `torch.nn.parallel.DistributedDataParallel` (DDP): one **process per GPU**, each with
#   its own copy of the model and its own share of the data (a `DistributedSampler`);
#   during `backward()` the processes average their gradients over the network
#   (all-reduce). Faster, and it also works across machines; a script using it is
#   started with `torchrun --nproc_per_node=4 train.py`.
#
# The idea behind both fits in one cell, on the CPU: cutting the batch, computing each
# piece separately and putting the results back together gives the same result as
# computing the whole batch at once, because every example is computed independently.

# %%
batch = torch.randn(10, 3)                    # 10 examples
weights = torch.randn(3, 2)                   # the "model": one matrix
pieces = batch.chunk(4)                       # what DataParallel does for 4 GPUs
print("pieces of the batch:", [tuple(p.shape) for p in pieces])
outputs = [p @ weights for p in pieces]       # each GPU: the whole model on its piece
print("same as the whole batch at once:", torch.allclose(torch.cat(outputs), batch @ weights))

# %% [markdown]
# ### The meta device
#
# The grader of this chapter also runs your functions on PyTorch's **meta** device:
# tensors with a shape and a dtype but no numbers at all. It exists on every machine, so
# even without a GPU the checks can see a function that quietly moved its work to the
# CPU or to numpy, or created a tensor without `device=`: its result cannot stay on
# `meta`, or it mixes devices and fails, just as it would on a GPU.

# %%
m = torch.randn(2, 3, device="meta")
print(m, (m @ m.T).shape)          # shapes propagate; there are no values to print


# %% [markdown]
# ---
# ## Exercises: the rules for all of them
#
# Each function you write in this chapter must work for inputs on **any device and of any
# floating dtype**: its result lives on the device of its inputs and has their dtype
# (unless the exercise names another). The grader runs them in float32 and float64, on the
# CPU, on the meta device, and on the GPU where there is one. On the meta device there are
# no values, so an operation whose result's *shape* depends on the values (selecting with
# a boolean mask, `x[mask]`) cannot run there: use `torch.where(mask, x, 0)` or multiply by
# the mask instead (the exercises never need `x[mask]`). Do not modify the tensors you are
# given unless the exercise says so.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_02", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 1 · `make_grid_tensor(h, w, device=None, dtype=torch.float32)` (1 point)
#
# Return a tensor `grid` of shape `(h, w, 2)` holding the coordinates of every cell of an
# `h` × `w` grid: `grid[i, j] = (i, j)`, the row index first (`grid[..., 0]` is the row,
# `grid[..., 1]` the column), counting from 0. The result has the given `dtype` and lives
# on the given `device` (`None` means the default, the CPU); without a `dtype` argument it
# is `float32`.
#
# Hint: `torch.arange(n, device=device, dtype=dtype)` creates the numbers where they
# belong (creating them on the CPU and copying works too, at the price of a copy on a
# GPU); then broadcasting or `torch.meshgrid(..., indexing="ij")`, then
# `torch.stack(..., dim=-1)`.

# %% nbgrader={"grade": false, "grade_id": "make_grid_tensor", "locked": false, "schema_version": 3, "solution": true}
def make_grid_tensor(h, w, device=None, dtype=torch.float32):
    """Coordinates (row, column) of an h x w grid: a tensor of shape (h, w, 2)."""
    ### BEGIN SOLUTION
    rows = torch.arange(h, device=device, dtype=dtype)
    cols = torch.arange(w, device=device, dtype=dtype)
    return torch.stack([rows[:, None].expand(h, w), cols[None, :].expand(h, w)], dim=-1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_make_grid_tensor", "locked": true, "points": 1, "schema_version": 3, "solution": false}
grid_t = make_grid_tensor(2, 3)
assert isinstance(grid_t, torch.Tensor), "make_grid_tensor must return a torch.Tensor"
assert grid_t.shape == (2, 3, 2), f"shape should be (h, w, 2) = (2, 3, 2), got {tuple(grid_t.shape)}"
assert grid_t.dtype == torch.float32, f"the default dtype is float32, got {grid_t.dtype}"
assert grid_t[1, 2].tolist() == [1.0, 2.0], f"grid[1, 2] should be (1, 2), got {grid_t[1, 2].tolist()}"
assert grid_t[0, 1].tolist() == [0.0, 1.0], f"grid[0, 1] should be (0, 1) (row first), got {grid_t[0, 1].tolist()}"
assert make_grid_tensor(2, 2, dtype=torch.float64).dtype == torch.float64, "use the dtype argument"
# The grader's check: other sizes and dtypes, and the meta device.
check("ch02.make_grid_tensor", make_grid_tensor)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch02.make_grid_tensor", make_grid_tensor)
### END HIDDEN TESTS

# %% [markdown]
# The grid in a picture: the two channels are the row and column index of each cell.

# %%
with needs("make_grid_tensor"):
    grid_demo = make_grid_tensor(6, 9, device=device)
    fig, ax = plt.subplots(1, 2, figsize=(7, 2.5))
    for c, name in enumerate(["grid[..., 0]: row i", "grid[..., 1]: column j"]):
        ax[c].imshow(grid_demo[..., c].cpu(), cmap="viridis")    # .cpu(): matplotlib reads numpy
        ax[c].set_title(name, fontsize=9)
    plt.tight_layout()
    plt.show()

# %% [markdown]
# ## 3. The road between numpy and torch
#
# `torch.from_numpy(arr)` and `t.numpy()` do **not** copy: the tensor and the array share
# one block of memory, so changing one changes the other. That makes the road between
# numpy and torch free, and a source of surprises:

# %%
arr = np.zeros(3)
t = torch.from_numpy(arr)          # shares memory with arr (and keeps its float64 dtype)
arr[0] = 5.0
t[1] = 7.0
print("array:", arr, " tensor:", t)

safe = torch.tensor(arr)           # torch.tensor always copies
arr[2] = -1.0
print("the copy did not change:", safe)

# %% [markdown]
# A numpy array always lives in main memory: numpy knows nothing of GPUs. So `.numpy()` on
# a CUDA tensor raises an error; a CUDA tensor must first be copied to the CPU:
# `t.cpu().numpy()` (`.cpu()` is `.to("cpu")`, free for a tensor that is already there).
# The same goes for `float(t)` and `t.item()`: they copy one number from the device and
# make the CPU wait for the GPU to finish, so a training loop calls them only to print.

# %%
on_device = torch.arange(3.0, device=device)
print(on_device.cpu().numpy())     # works on every device
print(on_device.sum().item())      # one Python number

# %% [markdown]
# The grader of this chapter also runs your functions on PyTorch's **meta** device:
# tensors with a shape and a dtype but no numbers at all. It exists on every machine, so
# even without a GPU the checks can see a function that quietly moved its work to the
# CPU or to numpy: its result cannot stay on `meta`.

# %% [markdown]
# ## 4. Indexing, slicing and masks
#
# Indexing works as in numpy: one index per dimension, `:` for "all of it", negative
# indices count from the end, and a slice `start:stop:step` excludes `stop`. A slice is a
# **view**: it shares memory with the original, like `from_numpy` above.

# %%
g = torch.arange(12).reshape(3, 4)
print(g)
print(g[1], g[:, 2], g[-1, -1], g[0:2, 1:3], sep="\n")
row = g[0]
row[0] = 100                       # writes through the view into g
print(g[0])

# %% [markdown]
# A **boolean mask** (a comparison gives one) selects the entries where it is `True`, and
# assigning through a mask changes exactly those entries. An **integer tensor** of indices
# picks rows (or entries) in any order, repeats allowed. Both of these make copies, not
# views.

# %%
v = torch.tensor([3.0, -1.0, 0.5, -2.0])
mask = v > 0
print(mask, v[mask])               # only the positive entries
v2 = v.clone()
v2[~mask] = 0.0                    # a ReLU by mask
print(v2, torch.where(mask, v, torch.zeros_like(v)))  # the same, without changing v
print(g[torch.tensor([2, 0, 2])])  # rows 2, 0, 2

# %% [markdown]
# Integer indices can also *write*: `out[rows, cols] = 1` sets one entry per (row, column)
# pair. And a comparison between a column and a row of numbers, thanks to broadcasting
# (section 6 explains it), gives a whole table of `True`/`False` at once:

# %%
labels_demo = torch.tensor([2, 0, 1])
print(labels_demo[:, None] == torch.arange(4))      # row n is True where the column is labels[n]


# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_03", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 2 · `one_hot(labels, num_classes)` (1 point)
#
# `labels` is an `int64` tensor of shape `(N,)` holding class numbers from `0` to
# `num_classes - 1`. Return the **one-hot** encoding: a `float32` tensor of shape
# `(N, num_classes)` whose row `n` is all zeros except a 1 in column `labels[n]`. It lives
# on the device of `labels`. Do not modify `labels`.
#
# A comparison with `torch.arange(num_classes, device=labels.device)` and broadcasting does
# it in one line; so does writing ones through integer indices into a tensor of zeros.
# (`torch.nn.functional.one_hot` exists too; it returns `int64`, so convert the result.)

# %% nbgrader={"grade": false, "grade_id": "one_hot", "locked": false, "schema_version": 3, "solution": true}
def one_hot(labels, num_classes):
    """(N,) class numbers -> (N, num_classes) float32 rows with a single 1."""
    ### BEGIN SOLUTION
    classes = torch.arange(num_classes, device=labels.device)
    return (labels[:, None] == classes[None, :]).to(torch.float32)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_one_hot", "locked": true, "points": 1, "schema_version": 3, "solution": false}
enc_t = one_hot(torch.tensor([2, 0, 1, 2]), 3)
assert isinstance(enc_t, torch.Tensor) and enc_t.shape == (4, 3), \
    f"4 labels and 3 classes make a (4, 3) tensor, got {getattr(enc_t, 'shape', enc_t)}"
assert enc_t.dtype == torch.float32, f"the encoding is float32, got {enc_t.dtype}"
assert enc_t.tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]], f"got {enc_t.tolist()}"
# The grader's check: random labels, other numbers of classes, and the meta device.
check("ch02.one_hot", one_hot)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch02.one_hot", one_hot)
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Changing the shape
#
# A tensor is a flat block of numbers plus a **shape** and **strides** (how far to jump in
# memory for a step along each dimension). Many shape changes only rewrite the shape and
# strides, so they are free and return views:
#
# * `reshape(2, 6)` / `view(2, 6)`: the same numbers read in another shape (`-1` means
#   "whatever is left"). `view` never copies and fails when it would have to;
#   `reshape` copies when it must;
# * `unsqueeze(d)` adds a dimension of size 1 at position `d`; `squeeze(d)` removes one;
#   indexing with `None` does the same as `unsqueeze`: `x[:, None]`;
# * `transpose(0, 1)` (or `.T` for a matrix) swaps two dimensions, `permute(2, 0, 1)`
#   reorders all of them (e.g. an image from height, width, channels to channels, height,
#   width).

# %%
s = torch.arange(6)
print(s.reshape(2, 3), s.view(3, -1), sep="\n")
print(s.unsqueeze(0).shape, s.unsqueeze(1).shape, s[:, None].shape, s[None, :, None].shape)
print(torch.zeros(1, 3, 1).squeeze().shape, torch.zeros(1, 3, 1).squeeze(0).shape)
img = torch.zeros(32, 48, 3)       # height, width, channels
print(img.permute(2, 0, 1).shape)  # channels, height, width

# %% [markdown]
# A transpose changes only the strides, so the numbers of `s.reshape(2, 3).T` are no
# longer stored row after row: the tensor is not **contiguous**. `view` needs contiguous
# memory and refuses; `.contiguous()` makes a tidy copy (and `reshape` does that for you).

# %%
st = s.reshape(2, 3).T
print(st.shape, st.stride(), st.is_contiguous())
try:
    st.view(6)
except RuntimeError as err:
    print("view refused:", str(err)[:70], "...")
print(st.contiguous().view(6), st.reshape(6))

# %% [markdown]
# Images show why `permute` matters. An image file (and numpy, and matplotlib) stores an
# image as height × width × channels: the three colour values of one pixel side by side.
# PyTorch's convolutions expect channels × height × width: one whole picture per colour.
# `permute` moves the dimension; `reshape` would only re-read the same memory in another
# shape and scramble the picture. Here a 2 × 3 image whose red channel counts 0..5:

# %%
pixels = torch.stack([torch.arange(6).reshape(2, 3), torch.zeros(2, 3, dtype=torch.int64),
                      torch.full((2, 3), 9)], dim=-1)          # (H, W, C) = (2, 3, 3)
print("red channel, permuted:", pixels.permute(2, 0, 1)[0].tolist())
print("'red channel', reshaped:", pixels.reshape(3, 2, 3)[0].tolist())


# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_04", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 3 · `to_channels_first(images)` (1 point)
#
# `images` is a `uint8` tensor of shape `(N, H, W, C)`: a batch of `N` images of height `H`
# and width `W`, with `C` colour channels, values 0 to 255 (the layout image files and
# numpy use). Return the `float32` tensor of shape `(N, C, H, W)` (the layout PyTorch's
# image layers use) with the values divided by 255, so that they run from 0 to 1, on the
# device of `images`. The result must be **contiguous** (`.is_contiguous()` is `True`):
# `permute` only changes the strides, so call `.contiguous()` at the end. Do not modify
# `images`.

# %% nbgrader={"grade": false, "grade_id": "to_channels_first", "locked": false, "schema_version": 3, "solution": true}
def to_channels_first(images):
    """(N, H, W, C) uint8 -> (N, C, H, W) float32 in [0, 1], contiguous."""
    ### BEGIN SOLUTION
    return (images.permute(0, 3, 1, 2).to(torch.float32) / 255).contiguous()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_to_channels_first", "locked": true, "points": 1, "schema_version": 3, "solution": false}
imgs_t = torch.arange(2 * 2 * 3 * 3, dtype=torch.uint8).reshape(2, 2, 3, 3)   # N=2, H=2, W=3, C=3
chw_t = to_channels_first(imgs_t)
assert chw_t.shape == (2, 3, 2, 3), f"(N, C, H, W) = (2, 3, 2, 3) expected, got {tuple(chw_t.shape)}"
assert chw_t.dtype == torch.float32, f"float32 expected, got {chw_t.dtype}"
assert chw_t.is_contiguous(), "the result must be contiguous: call .contiguous()"
# channel 1 of image 0 is the second value of every pixel of image 0, divided by 255
assert torch.allclose(chw_t[0, 1], imgs_t[0, :, :, 1].float() / 255), f"got {chw_t[0, 1]}"
check("ch02.to_channels_first", to_channels_first)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch02.to_channels_first", to_channels_first)
### END HIDDEN TESTS

# %% [markdown]
# ## 6. Arithmetic: `*` versus `@`, broadcasting, reductions
#
# `*` multiplies **element by element** (the shapes must match, or broadcast, see below);
# `@` (`torch.matmul`) is the **matrix product**, which sums over the inner dimension.
# Mixing them up is the most common bug in this chapter, and for square matrices no shape
# error warns you:

# %%
A = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
B = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
print(A * B)      # entry by entry
print(A @ B)      # rows of A times columns of B: swaps A's columns
# With more than two dimensions, @ multiplies matching matrices of a batch:
print((torch.randn(5, 2, 3) @ torch.randn(5, 3, 4)).shape)

# %% [markdown]
# ### Broadcasting
#
# When two shapes differ, PyTorch (like numpy) lines them up **from the right** and, in
# each dimension, stretches a size 1 to the other size; a missing dimension on the left
# counts as size 1. Nothing is copied: the size-1 dimension is read again and again.
#
# | `x` | `y` | `x + y` |
# |---|---|---|
# | `(3, 4)` | `(4,)` | `(3, 4)`: the row is added to every row |
# | `(3, 1)` | `(1, 4)` | `(3, 4)`: every pair (i, j) |
# | `(3, 4)` | `(3,)` | error: 4 and 3 do not match, use `(3, 1)` |
#
# The second line is how every "all pairs" computation is written without a loop: give one
# operand a new axis with `None`, and broadcasting builds the whole table at once.

# %%
col = torch.arange(3.0)[:, None]   # (3, 1)
row = torch.arange(4.0)[None, :]   # (1, 4)
table = col * 10 + row             # (3, 4): entry (i, j) = 10 i + j
print(table)

fig, ax = plt.subplots(1, 3, figsize=(8, 2.2))
for axis, data, title in zip(ax, [col.expand(3, 4), row.expand(3, 4), table],
                             ["col (3, 1), stretched", "row (1, 4), stretched", "col * 10 + row"]):
    axis.imshow(data, cmap="viridis")
    axis.set_title(title, fontsize=9)
    axis.set_xticks([]); axis.set_yticks([])
plt.tight_layout()
plt.show()


# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_05", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 4 · `batched_outer(u, v)` (1 point)
#
# `u` has shape `(B, n)` and `v` shape `(B, m)`: a batch of `B` pairs of vectors. Return
# the `(B, n, m)` tensor of their outer products:
# `outer[b, i, j] = u[b, i] * v[b, j]`. Each vector is multiplied only with the other
# vector of the *same* batch entry.
#
# **No Python loops** (`for`, `while`, comprehensions, `map`): the grader reads your code for
# loops, and counts the tensor operations your function issues on a small and on a larger
# batch (vectorised code issues the same number; a loop issues more as the input grows).
# Keep the device and dtype. Two dimensions of size 1 and broadcasting do it; so do
# `torch.bmm` or `torch.einsum`.

# %% nbgrader={"grade": false, "grade_id": "batched_outer", "locked": false, "schema_version": 3, "solution": true}
def batched_outer(u, v):
    """Outer product of u[b] (n,) and v[b] (m,) for every b: shape (B, n, m)."""
    ### BEGIN SOLUTION
    return u.unsqueeze(2) * v.unsqueeze(1)       # (B, n, 1) * (B, 1, m)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_batched_outer", "locked": true, "points": 1, "schema_version": 3, "solution": false}
u_t = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
v_t = torch.tensor([[3.0, 4.0, 5.0], [1.0, 1.0, 2.0]])
o_t = batched_outer(u_t, v_t)
assert o_t.shape == (2, 2, 3), f"B=2, n=2, m=3: the shape must be (2, 2, 3), got {tuple(o_t.shape)}"
assert o_t[0].tolist() == [[3.0, 4.0, 5.0], [6.0, 8.0, 10.0]], f"outer[0] should be [[3, 4, 5], [6, 8, 10]], got {o_t[0].tolist()}"
assert o_t[1].tolist() == [[0.0, 0.0, 0.0], [-1.0, -1.0, -2.0]], f"outer[1] should be [[0, 0, 0], [-1, -1, -2]], got {o_t[1].tolist()}"
check("ch02.batched_outer", batched_outer)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch02.batched_outer", batched_outer)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_06", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 5 · `pairwise_sq_distances(a, b)` (2 points)
#
# `a` has shape `(n, d)` and `b` shape `(m, d)`: two sets of points in `d` dimensions.
# Return the `(n, m)` tensor of squared Euclidean distances
# $D_{ij} = \lVert a_i - b_j \rVert^2 = \sum_k (a_{ik} - b_{jk})^2$.
#
# **No Python loops** (`for`, `while`, comprehensions, `map`): all pairs at once, with
# broadcasting (section 5) or with the expansion
# $\lVert a_i - b_j\rVert^2 = \lVert a_i\rVert^2 + \lVert b_j\rVert^2 - 2\, a_i \cdot b_j$,
# whose last term for all pairs is one matrix product. As in exercise 4, the grader reads
# your code for loops and counts the tensor operations on a small and a larger input.
#
# Keep the device and dtype of the inputs. If you use the expansion, rounding can give
# tiny negative values for (nearly) equal points: clamp the result at 0.

# %% nbgrader={"grade": false, "grade_id": "pairwise_sq_distances", "locked": false, "schema_version": 3, "solution": true}
def pairwise_sq_distances(a, b):
    """Squared Euclidean distance between every row of a (n, d) and every row of b (m, d)."""
    ### BEGIN SOLUTION
    diff = a[:, None, :] - b[None, :, :]          # (n, m, d) by broadcasting
    return (diff * diff).sum(dim=-1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_pairwise_sq_distances", "locked": true, "points": 2, "schema_version": 3, "solution": false}
a_t = torch.tensor([[0.0, 0.0], [1.0, 1.0], [3.0, 0.0]])
b_t = torch.tensor([[0.0, 0.0], [0.0, 2.0]])
d_t = pairwise_sq_distances(a_t, b_t)
assert d_t.shape == (3, 2), f"a has 3 points, b has 2: the shape must be (3, 2), got {tuple(d_t.shape)}"
expected_t = torch.tensor([[0.0, 4.0], [2.0, 2.0], [9.0, 13.0]])
assert torch.allclose(d_t, expected_t), f"expected\n{expected_t}\ngot\n{d_t}"
check("ch02.pairwise_sq_distances", pairwise_sq_distances)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch02.pairwise_sq_distances", pairwise_sq_distances)
### END HIDDEN TESTS

# %% [markdown]
# Why "no loops"? Count what each version asks of PyTorch, and time it. The loop issues a
# few tensor operations per pair of points (each with Python's overhead of a few
# microseconds); the vectorised version issues the same few operations whatever the
# number of points. `torch_ops` is the counter the grader uses:

# %%
import time
from autograder.learner.probes import torch_ops

def sq_distances_loop(a, b):
    out = torch.empty(a.shape[0], b.shape[0], dtype=a.dtype, device=a.device)
    for i in range(a.shape[0]):
        for j in range(b.shape[0]):
            out[i, j] = ((a[i] - b[j]) ** 2).sum()
    return out

def best_time(fn, repeats=3):
    """The fastest of a few runs: the first run also pays for warming up."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result

with needs("pairwise_sq_distances"):
    for n in (5, 10):
        pts = torch.randn(n, 4), torch.randn(n, 4)
        loop_ops = sum(torch_ops(sq_distances_loop, *pts)[1].values())
        vec_ops = sum(torch_ops(pairwise_sq_distances, *pts)[1].values())
        print(f"{n} x {n} points: the loop issues {loop_ops} operations, yours {vec_ops}")
    pts_a, pts_b = torch.randn(60, 16), torch.randn(80, 16)
    t_loop, slow = best_time(lambda: sq_distances_loop(pts_a, pts_b), repeats=1)
    t_vec, fast = best_time(lambda: pairwise_sq_distances(pts_a, pts_b))
    print(f"60 x 80 points: loop {t_loop * 1e3:.1f} ms, vectorised {t_vec * 1e3:.3f} ms;"
          f" same result: {torch.allclose(slow, fast, atol=1e-4)}")
# On a busy machine the times jump around (run the cell again); the counts do not.

# %% [markdown]
# ### Reductions with `dim` and `keepdim`
#
# `sum`, `mean`, `max`, `norm`... without arguments reduce the whole tensor to one number.
# With `dim=d` they reduce only along dimension `d`, which then disappears from the shape;
# with `keepdim=True` it stays, with size 1. That size-1 dimension is exactly what
# broadcasting needs to combine the result with the original again:

# %%
M = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
print(M.sum(), M.sum(dim=0), M.sum(dim=1))          # (), (3,), (2,)
print(M.sum(dim=1, keepdim=True).shape)             # (2, 1)
print(M / M.sum(dim=1, keepdim=True))               # each row divided by its own sum
print(M.max(dim=1))                                 # values and their indices

# %% [markdown]
# Try `M / M.sum(dim=1)`: shapes `(2, 3)` and `(2,)` do not broadcast, and you get an
# error. That is lucky; with a square matrix you would get a wrong answer silently (each
# *column* divided by a row's sum). `keepdim=True` avoids the trap.
#
# **Comparisons** (`==`, `<`, `>=`, ...) work element by element and give `bool` tensors:
# masks for indexing, or counts with `.sum()`. To compare whole tensors use
# `torch.equal(a, b)` (same shape and values) or `torch.allclose(a, b)` (equal up to
# rounding, the right test for floats).

# %%
p = torch.tensor([0.1 + 0.2, 0.5], dtype=torch.float64)   # 0.1 + 0.2 is 0.30000000000000004
q = torch.tensor([0.3, 0.5], dtype=torch.float64)
print(p == q, torch.equal(p, q), torch.allclose(p, q), (p > 0.2).sum())


# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_07", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 6 · `normalize_rows(x)` (1 point)
#
# `x` has shape `(n, d)`: `n` vectors of `d` numbers, one per row. Return a new tensor of
# the same shape whose row `i` is `x[i]` divided by its Euclidean (L2) norm
# $\lVert x_i \rVert = \sqrt{\sum_k x_{ik}^2}$, so that every row has norm 1. A row of
# zeros has no direction: divide by $\max(\lVert x_i \rVert, 10^{-12})$, so that it stays
# a row of zeros instead of becoming `nan`.
#
# Do **not** modify `x` (no in-place operations on it). Keep its device and dtype.
# `torch.nn.functional.normalize` does this; write it yourself, with a reduction and
# broadcasting: the grader notices a call to `normalize`, under any name.

# %% nbgrader={"grade": false, "grade_id": "normalize_rows", "locked": false, "schema_version": 3, "solution": true}
def normalize_rows(x):
    """Each row of x divided by its L2 norm (at least 1e-12): rows of unit length."""
    ### BEGIN SOLUTION
    norms = torch.sqrt((x * x).sum(dim=1, keepdim=True))
    return x / norms.clamp(min=1e-12)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_normalize_rows", "locked": true, "points": 1, "schema_version": 3, "solution": false}
x_t = torch.tensor([[3.0, 4.0], [0.0, 0.0], [0.0, -2.0]])
y_t = normalize_rows(x_t)
assert y_t.shape == x_t.shape, f"the shape must stay {tuple(x_t.shape)}, got {tuple(y_t.shape)}"
assert torch.allclose(y_t[0], torch.tensor([0.6, 0.8])), f"[3, 4] has norm 5, so row 0 should be [0.6, 0.8], got {y_t[0]}"
assert torch.equal(y_t[1], torch.zeros(2)), f"a zero row must stay zero (not nan), got {y_t[1]}"
assert torch.allclose(y_t[2], torch.tensor([0.0, -1.0])), f"row 2 should be [0, -1], got {y_t[2]}"
assert x_t[0, 0] == 3.0, "normalize_rows changed its input: compute a new tensor"
check("ch02.normalize_rows", normalize_rows)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch02.normalize_rows", normalize_rows)
### END HIDDEN TESTS

# %% [markdown]
# ## 7. In-place operations: the trailing underscore
#
# Most operations return a new tensor. Their in-place twins end with an underscore and
# overwrite their tensor: `x.add_(1)`, `x.mul_(2)`, `x.clamp_(min=0)`, `x.zero_()`; the
# augmented assignments `x += 1`, `x -= lr * g` are in place too. They save memory, and
# they change the tensor for **everyone** who holds it: the caller's variable, every view
# of it, every numpy array sharing its memory.

# %%
def relu_copy(x):
    return x.clamp(min=0)          # a new tensor: the caller's x is untouched

def relu_in_place(x):
    return x.clamp_(min=0)         # overwrites the caller's x

data = torch.tensor([-1.0, 2.0])
relu_copy(data)
print("after relu_copy:    ", data)
relu_in_place(data)
print("after relu_in_place:", data)


# %% [markdown]
# Rule of thumb: a function does not modify its inputs unless its name or its docs say
# so. Use in-place updates on tensors you own (like weights you are updating in a loop),
# never on your caller's data.
#

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_08", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 7 · `center_columns_(x)` (1 point)
#
# The underscore in the name is the promise of section 7: this function **modifies its
# input**. `x` has shape `(n, d)`. Subtract from each column its mean (over the `n` rows),
# **in place**, so that afterwards every column of the caller's `x` has mean 0, and return
# `x` itself (the same tensor object, as `x.sub_(...)` does), like PyTorch's own in-place
# methods. `x = x - ...` is not in place: it makes a new tensor and leaves the caller's
# unchanged.

# %% nbgrader={"grade": false, "grade_id": "center_columns_", "locked": false, "schema_version": 3, "solution": true}
def center_columns_(x):
    """Subtract each column's mean from x, in place; return x."""
    ### BEGIN SOLUTION
    x -= x.mean(dim=0, keepdim=True)
    ### END SOLUTION
    return x


# %% nbgrader={"grade": true, "grade_id": "test_center_columns_", "locked": true, "points": 1, "schema_version": 3, "solution": false}
m_t = torch.tensor([[1.0, 10.0], [3.0, 20.0]])    # column means 2 and 15
r_t = center_columns_(m_t)
assert r_t is m_t, "return x itself (the tensor you were given), not a new tensor"
assert m_t.tolist() == [[-1.0, -5.0], [1.0, 5.0]], f"x itself should now be [[-1, -5], [1, 5]], got {m_t.tolist()}"
check("ch02.center_columns_", center_columns_)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch02.center_columns_", center_columns_)
### END HIDDEN TESTS

# %% [markdown]
# ## 8. The two-layer network again, on tensors
#
# Here is chapter 01's network translated to torch. Almost nothing changes: `np.maximum(h,
# 0)` becomes `h.clamp(min=0)`, `.T` and `@` stay, and the sum of squared errors is
# `((y_pred - y) ** 2).sum()`. What is new is where the numbers live: put `x, y, w1, w2`
# on a GPU and every line runs there, with no change to the code.
#
# The gradients are still written by hand, exactly as in chapter 01:
#
# $$\frac{\partial L}{\partial \hat y} = 2(\hat y - y),\quad
# \frac{\partial L}{\partial w_2} = h_{relu}^\top \frac{\partial L}{\partial \hat y},\quad
# \frac{\partial L}{\partial h} = \Big(\frac{\partial L}{\partial \hat y}\, w_2^\top\Big)\odot[h > 0],\quad
# \frac{\partial L}{\partial w_1} = x^\top \frac{\partial L}{\partial h}$$
#
# Chapter 03 hands this part to autograd; this chapter does not use it (no
# `requires_grad`, no `.backward()`).
#
# The loss comes back as a **0-dimensional tensor** on the device, not as a Python float:
# turning it into a float (`.item()`) would make the CPU wait for the GPU at every step.
# The training loop below calls `.item()` only to record the curve.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_09", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 8 · `two_layer_step(x, y, w1, w2, lr)` (3 points)
#
# One step of gradient descent for the two-layer ReLU network of chapter 01:
# forward pass $h = x w_1$, $h_{relu} = \max(h, 0)$, $\hat y = h_{relu} w_2$;
# loss $L = \sum (\hat y - y)^2$ (sum of squared errors) of the weights **given**;
# gradients of $L$ with respect to `w1` and `w2` **by hand** (the formulas above; no
# autograd: no `backward`, `requires_grad`, `torch.autograd` or `torch.func`, which the
# grader notices by what autograd records); then
# $w \leftarrow w - \text{lr}\cdot \partial L/\partial w$ for both weights, both computed
# from the gradients of this step.
#
# Return `(w1, w2, loss)`: the updated weights and the loss before the update, as a 0-d
# tensor. Everything stays on the device and in the dtype of the inputs. You may update
# `w1` and `w2` in place (`w1 -= ...`) and return them, or return new tensors; do not
# modify `x` or `y`.

# %% nbgrader={"grade": false, "grade_id": "two_layer_step", "locked": false, "schema_version": 3, "solution": true}
def two_layer_step(x, y, w1, w2, lr):
    """One gradient-descent step of the two-layer ReLU net: returns (w1, w2, loss)."""
    ### BEGIN SOLUTION
    h = x @ w1
    h_relu = h.clamp(min=0)
    y_pred = h_relu @ w2
    loss = ((y_pred - y) ** 2).sum()

    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h_relu.T @ grad_y_pred
    grad_h = (grad_y_pred @ w2.T) * (h > 0)
    grad_w1 = x.T @ grad_h

    w1 = w1 - lr * grad_w1
    w2 = w2 - lr * grad_w2
    ### END SOLUTION
    return w1, w2, loss


# %% nbgrader={"grade": true, "grade_id": "test_two_layer_step", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# One example, one hidden unit that is active and one that is not: small enough for paper.
x_t = torch.tensor([[1.0, 2.0]])
y_t = torch.tensor([[1.0]])
w1_t = torch.tensor([[1.0, -1.0], [1.0, -1.0]])   # h = [3, -3], h_relu = [3, 0]
w2_t = torch.tensor([[1.0], [1.0]])               # y_pred = 3, error 2, loss 4
w1_new, w2_new, loss_t = two_layer_step(x_t, y_t, w1_t.clone(), w2_t.clone(), lr=0.1)
assert isinstance(loss_t, torch.Tensor) and loss_t.dim() == 0, \
    f"loss must be a 0-d tensor (not a float, not shape (1, 1)), got {loss_t!r}"
assert torch.isclose(loss_t, torch.tensor(4.0)), f"(3 - 1)^2 = 4, got {loss_t}"
# grad_w2 = h_relu.T @ 2 (y_pred - y) = [[12], [0]]; w2 - 0.1 * grad_w2 = [[-0.2], [1]]
assert torch.allclose(w2_new, torch.tensor([[-0.2], [1.0]])), f"w2 should be [[-0.2], [1]], got {w2_new}"
# grad_h = [4, 4] masked by h > 0 -> [4, 0]; grad_w1 = x.T @ grad_h = [[4, 0], [8, 0]]
assert torch.allclose(w1_new, torch.tensor([[0.6, -1.0], [0.2, -1.0]])), \
    f"w1 should be [[0.6, -1], [0.2, -1]], got {w1_new}"
check("ch02.two_layer_step", two_layer_step)
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch02.two_layer_step", two_layer_step)
### END HIDDEN TESTS

# %% [markdown]
# ## 9. Watch it learn, on the device
#
# The same random problem as in chapter 01 (`N = 64`, `D_in = 1000`, `H = 100`,
# `D_out = 10`), created directly on the device in float32. Each call of `two_layer_step`
# is one step; the loss curve should look like chapter 01's. On a GPU, try making `N` and
# `D_in` ten times larger and compare the time with the CPU (`device = "cpu"`).

# %%
N, D_in, H, D_out = 64, 1000, 100, 10
gen = torch.Generator().manual_seed(0)
x = torch.randn(N, D_in, generator=gen).to(device)
y = torch.randn(N, D_out, generator=gen).to(device)
w1 = torch.randn(D_in, H, generator=gen).to(device)
w2 = torch.randn(H, D_out, generator=gen).to(device)

learning_rate = 1e-6
steps = pick(full=500, quick=30)
losses = []
with needs("two_layer_step"):
    for _ in progress(range(steps), desc=f"training on {device}"):
        w1, w2, loss = two_layer_step(x, y, w1, w2, learning_rate)
        losses.append(loss.item())      # one number back to the CPU, for the plot
    print(f"loss: {losses[0]:.4g} at the start, {losses[-1]:.4g} after {steps} steps")
    loss_curve(losses, title=f"Two-layer net on random data (torch, {device})")
    plt.show()

# %% [markdown]
# ## Check all your answers at once
#
# One line runs the grader's checks for every exercise of this chapter, on every device of
# this machine and on the meta device, and prints a tick or what is wrong with the usual
# cause. The hidden tests at submission are these same checks.

# %%
check_chapter("ch02", globals());

# %% [markdown]
# ## What comes next
#
# You now hold everything a framework needs to store and move numbers: tensors, their
# dtype and device, and the vocabulary of shapes. The backward pass, however, is still
# yours to write, and a mistake in it (a missing mask, a transpose) fails silently.
# In **chapter 03 · Autograd** PyTorch records the forward pass as it runs and derives
# `grad_w1` and `grad_w2` by itself; your `two_layer_step` becomes four lines.
