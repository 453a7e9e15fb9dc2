# %% [markdown]
# # Chapter 10 · Fashion-MNIST: a complete project
#
# Every chapter so far isolated one idea. This one puts them together into the project
# you will write again and again: **real data on disk → a `Dataset` → a `DataLoader` →
# a model → a training loop → metrics you can trust → a saved model**.
#
# The data is Fashion-MNIST: 70,000 grey 28 × 28 pictures of clothes in 10 classes
# (60,000 for training, 10,000 for testing). It was made as a harder drop-in replacement
# for the handwritten digits of MNIST: a sneaker and a sandal, or a shirt and a pullover,
# are easy to confuse, so the metrics section will have something to say.
#
# You will write:
#
# 1. `FMDataset(df, transform)`: a `Dataset` over a pandas table of pixels,
# 2. `build_cnn()`: a small convolutional network,
# 3. `train_one_epoch(model, loader, loss_fn, optimizer, device)`: one pass of training,
# 4. `evaluate(model, loader, loss_fn, device)`: loss and accuracy without learning,
# 5. `confusion_matrix(y_true, y_pred, n_classes)`: who is mistaken for whom,
# 6. `precision_recall_f1(y_true, y_pred, n_classes)`: per-class metrics.
#
# Each exercise is followed by its test cell (chapter 01 explains how grading works), and
# each statement says everything its checks look at.
#
# **Quick mode.** When `COURSE_QUICK=1` (autograding, CI), every training and timing cell
# works on a small subset so the notebook runs in seconds; results are then rough.

# %% nbgrader={"grade": false, "grade_id": "locked_01", "locked": true, "schema_version": 3, "solution": false}
import os
import tempfile
import time
import warnings

import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset
from PIL import Image
from torchvision import datasets
from torchvision.transforms import v2

from autograder import check, check_chapter, default_device, needs, pick
from autograder.learner.data import data_root, write_csv
from autograder import loss_curve, progress
from autograder import CLASSES, seed_everything

QUICK = pick(full=False, quick=True)
if QUICK:
    torch.set_num_threads(1)   # autograding runs several notebooks at once: one core each

DATA = data_root()             # the folder `make data` filled (data/ in the repository)
device = torch.device(default_device())
seed_everything(0)
print(f"data in {DATA}, training on {device}")

# %% [markdown]
# ## 1. The data, the torchvision way
#
# torchvision knows Fashion-MNIST: given the folder that holds `FashionMNIST/raw/`, it
# reads the four original files (`download=False`: the course already put them there, so
# nothing is fetched from the internet). An item is a pair **(PIL image, int label)**:
# torchvision deliberately hands you the picture in the format image libraries use, and
# lets a *transform* turn it into a tensor. Keep that contract in mind: your own dataset
# will honour it.

# %% nbgrader={"grade": false, "grade_id": "locked_02", "locked": true, "schema_version": 3, "solution": false}
tv_train = datasets.FashionMNIST(root=DATA, train=True, download=False)
tv_test = datasets.FashionMNIST(root=DATA, train=False, download=False)
image, label = tv_train[0]
print(len(tv_train), "training and", len(tv_test), "test images")
print("item 0:", type(image).__name__, image.mode, image.size, "| label", label, type(label).__name__,
      f"= {CLASSES[label]}")

# %% [markdown]
# What does torchvision do with those files? Nothing you could not do in a few lines. An
# IDX file starts with a header: two zero bytes, a type code (`0x08`: unsigned bytes), the
# number of dimensions, then each dimension's size as a 4-byte big-endian integer; the
# values follow, row by row. numpy reads the rest in one call:

# %%
import struct


def read_idx(path):
    """An IDX file of unsigned bytes as a numpy array of its stated shape."""
    with open(path, "rb") as f:
        zero, type_code, ndim = struct.unpack(">HBB", f.read(4))
        assert zero == 0 and type_code == 0x08, "not an IDX file of unsigned bytes"
        shape = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(shape)


raw_dir = os.path.join(DATA, "FashionMNIST", "raw")
my_images = read_idx(os.path.join(raw_dir, "train-images-idx3-ubyte"))
my_labels = read_idx(os.path.join(raw_dir, "train-labels-idx1-ubyte"))
print("images", my_images.shape, my_images.dtype, "| first labels", my_labels[:8])
print("the same as torchvision's:", np.array_equal(my_images, tv_train.data.numpy()),
      np.array_equal(my_labels, tv_train.targets.numpy()))

# %% [markdown]
# Numbers do not tell you whether the data makes sense; pictures do. Look at a few
# images with their labels before training anything: you would spot at once labels that
# do not match the pictures, images stored transposed, or an empty batch. In the files a
# pixel is 0 for the background and up to 255 for the brightest part of the garment; we
# draw with the reversed grey colour map `gray_r`, which paints 0 white and 255 black, so
# the clothes appear dark on a white page.

# %%
fig, axes = plt.subplots(3, 8, figsize=(11, 4.6))
for ax, idx in zip(axes.flat, range(24)):
    img, lab = tv_train[idx]
    ax.imshow(img, cmap="gray_r")
    ax.set_title(CLASSES[lab], fontsize=8)
    ax.axis("off")
plt.suptitle("The first 24 training images")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 2. The same data as a table: a `Dataset` of your own
#
# Data often arrives as a table instead, here a CSV file with one row per image:
# `label, pixel1, ..., pixel784`, the 784 pixels of the 28 × 28 picture row by row (0 is
# the background, 255 the brightest; our plots show 0 as white). `write_csv` writes these
# files from the raw data the first time (later calls just check them). In quick mode we
# read only the first rows.
#
# A PyTorch `Dataset` needs just two methods: `__len__` (how many items) and
# `__getitem__(i)` (item number `i`). The `DataLoader` then takes care of batching,
# shuffling and parallel loading. Doing the expensive work once in `__init__` (turning
# the frame into one `uint8` array) keeps `__getitem__` fast, and it is called 60,000
# times per epoch. (The name is `__getitem__`, one word: some tutorials write
# `__get_item__`, which Python never calls, so `dataset[i]` then fails.)

# %% nbgrader={"grade": false, "grade_id": "locked_03", "locked": true, "schema_version": 3, "solution": false}
csv_files = write_csv()
df_train = pd.read_csv(csv_files["train"], nrows=pick(full=None, quick=3000))
df_test = pd.read_csv(csv_files["test"], nrows=pick(full=None, quick=2000))
print(df_train.shape, df_test.shape)
df_train.iloc[:3, :8]


# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_04", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 1 · `FMDataset(df, transform=None)` (2 points)
#
# Write a `Dataset` over a frame with the CSV layout (column `label`, then `pixel1` to
# `pixel784`, int64) whose items are **exactly torchvision's** for the same images:
#
# * `len(dataset)` is the number of rows;
# * `dataset[i]` is the pair `(image, label)` of the `i`-th row *by position* (the frame
#   may be a slice whose index does not start at 0): `image` a PIL image in mode `"L"`
#   (`Image.fromarray` of a `(28, 28)` `uint8` array), `label` the class index as a Python
#   `int` like torchvision's (a numpy or 0-d tensor integer is accepted too, not a float);
# * when `transform` is not `None`, `image` is replaced by `transform(image)`.
#
# Do not modify `df` (no `inplace=True`, no `df.pop`): the caller may use it again. The
# checks compare every item with torchvision's on random rows of the training set, without
# a transform and with several (`ToImage`/`ToDtype`, `Normalize`, `Resize`/`CenterCrop`, and
# random augmentations seeded identically on both sides), and check that `df` is unchanged.

# %% nbgrader={"grade": false, "grade_id": "FMDataset", "locked": false, "schema_version": 3, "solution": true}
class FMDataset(Dataset):
    """Fashion-MNIST from a pandas frame: label, then 784 pixel columns."""

    def __init__(self, df, transform=None):
        ### BEGIN SOLUTION
        self.labels = df["label"].to_numpy()
        pixels = df.drop(columns="label").to_numpy()
        self.images = pixels.astype(np.uint8).reshape(-1, 28, 28)
        self.transform = transform
        ### END SOLUTION

    def __len__(self):
        ### BEGIN SOLUTION
        return len(self.labels)
        ### END SOLUTION

    def __getitem__(self, i):
        ### BEGIN SOLUTION
        image = Image.fromarray(self.images[i], mode="L")
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.labels[i])
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_FMDataset", "locked": true, "points": 2, "schema_version": 3, "solution": false}
ds_check = FMDataset(df_test.iloc[5:9])            # test rows 5, 6, 7, 8
assert len(ds_check) == 4, f"4 rows give 4 items, got len {len(ds_check)}"
img_c, lab_c = ds_check[1]                        # test image 6
assert isinstance(img_c, Image.Image) and img_c.mode == "L", \
    f"without a transform an item's image is a PIL image in mode 'L', got {type(img_c)}"
assert not torch.as_tensor(lab_c).is_floating_point() and int(lab_c) == tv_test[6][1], \
    f"label of test image 6: the int {tv_test[6][1]}, got {lab_c!r}"
assert np.array_equal(np.array(img_c), np.array(tv_test[6][0])), "image 6 differs from torchvision's"
x_c, _ = FMDataset(df_test.iloc[:2], v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]))[0]
assert x_c.shape == (1, 28, 28) and x_c.dtype == torch.float32 and 0 <= x_c.min() <= x_c.max() <= 1, \
    "ToImage + ToDtype(scale=True) of the image: float32 in [0, 1], shape (1, 28, 28)"
print("visible checks passed")
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch10.FMDataset", FMDataset)
### END HIDDEN TESTS

# %% [markdown]
# ### A third way in: a folder of image files
#
# Photos usually arrive as files, one folder per class: `root/Sandal/001.png`, ...
# torchvision's `ImageFolder` turns such a tree into a dataset without any code: the
# sorted folder names become the classes, and an item is `(image, class index)`. The cell
# below writes a few training images as PNG files into a temporary folder, then reads them
# back. Two things to notice: `ImageFolder` numbers the classes in *alphabetical* order of
# the folder names (not in `CLASSES`' order, and only the classes it finds), and it opens
# every file as RGB, so a `Grayscale` transform brings our images back to one channel.

# %%
with tempfile.TemporaryDirectory() as folder:
    for k in range(12):
        img, lab = tv_train[k]
        class_dir = os.path.join(folder, CLASSES[lab].replace("/", "-"))
        os.makedirs(class_dir, exist_ok=True)
        img.save(os.path.join(class_dir, f"{k:03d}.png"))
    files = datasets.ImageFolder(folder, transform=v2.Compose(
        [v2.Grayscale(), v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]))
    x_f, y_f = files[0]
    print(len(files), "files;", "classes:", files.class_to_idx)
    print("item 0:", tuple(x_f.shape), x_f.dtype, "label", y_f, "=", files.classes[y_f])
    original = tv_train.data[int(os.path.basename(files.samples[0][0])[:3])].float()
    print(f"largest difference from the original: {float((x_f[0] * 255 - original).abs().max()):.2g} "
          "grey levels")
    print(f"'{files.classes[y_f]}' is class {y_f} for ImageFolder, class "
          f"{CLASSES.index(files.classes[y_f])} in CLASSES: keep the mapping with the data")

# %% [markdown]
# ## 3. Transforms: from pictures to tensors, and a little augmentation
#
# A network wants float tensors, not PIL images. torchvision's current transforms live in
# `torchvision.transforms.v2`: `v2.ToImage()` turns a PIL image of shape `(H, W)` into a
# `uint8` tensor of shape `(1, H, W)`, channels first (PyTorch's layout, C × H × W), and
# `v2.ToDtype(torch.float32, scale=True)` makes it `float32` in `[0, 1]` (it divides by 255
# only for integer input, which is one reason to keep images `uint8` until then). The older
# `transforms.ToTensor()` did both at once; it is deprecated in v2, and it, too, returns
# C × H × W (some tutorials call that "TensorFlow's layout": TensorFlow uses H × W × C).
# `v2.Normalize(mean, std)` then centres the pixels: inputs with mean 0 and standard
# deviation 1 make the first layer's job, and the optimiser's, easier. The statistics come
# from the **training** images only: not from the validation images we hold out below,
# nor from the test images you will report on.
#
# **Augmentation** shows the network a slightly different version of each image every
# epoch: shifted a little (`RandomCrop` of a padded image), mirrored (`RandomHorizontalFlip`:
# a mirrored shoe is still a shoe), turned a few degrees (`RandomRotation`). The model
# cannot memorise exact pixels, so it generalises better. It is for training only: the
# test images are shown as they are. `v2.Compose` chains transforms in order; the random
# ones act on the image before it becomes a float tensor.

# %%
# The split first: the last 10,000 training images are held out for validation (choosing
# epochs, learning rates...), so the statistics come from the rows we train on only.
train_rows = pick(full=50000, quick=1024)
val_rows = range(50000, 50000 + pick(full=10000, quick=500))
pixels = torch.from_numpy(df_train.iloc[:train_rows, 1:].to_numpy() / 255.0)
MEAN, STD = pixels.mean().item(), pixels.std().item()
print(f"pixels of the {train_rows} training rows: mean {MEAN:.4f}, std {STD:.4f}")

to_float = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
to_input = v2.Compose(to_float + [v2.Normalize([MEAN], [STD])])
augment = v2.Compose([
    v2.RandomCrop(28, padding=2),
    v2.RandomHorizontalFlip(),
    v2.RandomRotation(10),
    *to_float,
    v2.Normalize([MEAN], [STD]),
])
x0 = to_input(tv_train[0][0])
print("one input:", tuple(x0.shape), x0.dtype, f"mean {x0.mean():.2f}")

# %%
fig, axes = plt.subplots(1, 8, figsize=(11, 1.8))
torch.manual_seed(0)
for k, ax in enumerate(axes):
    view = (augment if k else to_input)(tv_train[0][0])
    ax.imshow(view[0], cmap="gray_r")
    ax.set_title("original" if k == 0 else f"augmented {k}", fontsize=8)
    ax.axis("off")
plt.show()

# %% [markdown]
# Images of other sizes are brought to the network's size with two more transforms:
# `v2.Resize(n)` scales the image so that its shorter side is `n` pixels (keeping the
# aspect ratio), and `v2.CenterCrop(n)` cuts the central `n × n` square. Pretrained
# networks, for instance, expect 224 × 224 inputs: `Resize(256)` then `CenterCrop(224)` is
# the usual recipe. Here on one of our images:

# %%
resized = v2.Resize(56)(tv_train[0][0])
cropped = v2.CenterCrop(20)(tv_train[0][0])
fig, axes = plt.subplots(1, 3, figsize=(6, 2.2))
for ax, (title, img) in zip(axes, [("original", tv_train[0][0]), ("Resize(56)", resized),
                                   ("CenterCrop(20)", cropped)]):
    ax.imshow(img, cmap="gray_r")
    ax.set_title(f"{title}: {img.size[0]} x {img.size[1]}", fontsize=8)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 4. DataLoader options
#
# The `DataLoader` turns a dataset into batches. Its options, and why they exist:
#
# * `batch_size`: how many images per gradient step: larger batches use the hardware
#   better, smaller ones give more (noisier) steps per epoch;
# * `shuffle=True` for training, so each epoch sees the images in a new order (batches
#   would otherwise always hold the same images, and sorted data would be a disaster); no
#   shuffle for evaluation, where order does not matter;
# * `num_workers`: how many background processes prepare batches while the model trains
#   (section 10 measures it);
# * `drop_last=True` drops an incomplete last batch: useful when a tiny last batch would
#   upset BatchNorm statistics; never for evaluation, where every image must count.

# %%
# Training and validation rows as split above; the test images are kept for one final
# measurement. torchvision's dataset here; FMDataset(df_train, augment) gives the very same items
train_set = Subset(datasets.FashionMNIST(root=DATA, train=True, transform=augment), range(train_rows))
val_set = Subset(datasets.FashionMNIST(root=DATA, train=True, transform=to_input), val_rows)
train_loader = DataLoader(train_set, batch_size=64, shuffle=True, drop_last=True)
val_loader = DataLoader(val_set, batch_size=256)
xb, yb = next(iter(train_loader))
print(f"a batch: x {tuple(xb.shape)} {xb.dtype}, y {tuple(yb.shape)} {yb.dtype}")
print(f"{len(train_set)} training images -> {len(train_loader)} batches of 64 (drop_last=True), "
      f"{len(val_set)} validation images -> {len(val_loader)} batches")


# %% [markdown]
# ## 5. A small convolutional network
#
# A fully connected layer treats the 784 pixels as an unordered list: it must learn
# separately that a collar on the left looks like a collar on the right. A **convolution**
# slides the same small filter (here 3 × 3) over the whole image, so one learned pattern is
# found wherever it appears, with a handful of weights. The recipe of a small image CNN:
#
# * `Conv2d(in, out, 3, padding=1)`: `out` filters; `padding=1` keeps 28 × 28 at 28 × 28;
# * `BatchNorm2d(out)`: re-centres each channel over the batch, which makes training
#   faster and less sensitive to the learning rate (and behaves differently in training
#   and evaluation: remember this for section 6);
# * `ReLU()`, then `MaxPool2d(2)`: keep the strongest response in each 2 × 2 square,
#   halving the size (28 → 14 → 7) so the next layer sees a wider region;
# * `Flatten()` and `Linear` layers turn the `32 × 7 × 7` feature maps into 10 class
#   scores, with `Dropout` against over-fitting.
#
# The last layer returns raw scores (**logits**), not probabilities: `nn.CrossEntropyLoss`
# applies the log-softmax itself, in a numerically safer way. Two details that tutorials
# get wrong: its targets are the class indices themselves (int64), and nothing is one-hot
# encoded anywhere: it picks the log-probability of the target class in each row, as
# chapter 09's `nll` did. And its arguments come in the order **(input, target)**:
# `loss_fn(logits, labels)`. Swapped, it fails at best (the labels are not floats), and at
# worst, with float targets, silently computes something else.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_05", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 2 · `build_cnn()` (2 points)
#
# Return a fresh `nn.Module` mapping a batch `(N, 1, 28, 28)` to logits `(N, 10)`:
# two blocks `Conv2d(3 × 3, padding 1) → BatchNorm2d → ReLU → MaxPool2d(2)` with 16 then 32
# channels, then `Flatten → Linear(32·7·7, 128) → ReLU → Dropout(0.3) → Linear(128, 10)`
# (207,018 parameters). The checks accept any CNN with 20,000 to 1,500,000 parameters that
# returns logits and reaches at least 0.65 test accuracy after one epoch on 2,000 images.

# %% nbgrader={"grade": false, "grade_id": "build_cnn", "locked": false, "schema_version": 3, "solution": true}
def build_cnn():
    """The chapter's CNN for 1 x 28 x 28 images and 10 classes (returns logits)."""
    ### BEGIN SOLUTION
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(128, 10),
    )
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_build_cnn", "locked": true, "points": 2, "schema_version": 3, "solution": false}
cnn_check = build_cnn()
assert isinstance(cnn_check, nn.Module), "build_cnn must return an nn.Module"
out_c = cnn_check.eval()(torch.zeros(3, 1, 28, 28))
assert out_c.shape == (3, 10), f"3 images should give logits of shape (3, 10), got {tuple(out_c.shape)}"
n_params_c = sum(p.numel() for p in cnn_check.parameters())
assert 20_000 <= n_params_c <= 1_500_000, f"{n_params_c:,} parameters: keep it between 20,000 and 1,500,000"
print(f"visible checks passed ({n_params_c:,} parameters)")
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch10.build_cnn", build_cnn)
### END HIDDEN TESTS

# %% [markdown]
# Following one batch through the layers shows where the `32 * 7 * 7` comes from:

# %%
with needs("build_cnn"):
    h, net = torch.zeros(2, 1, 28, 28), build_cnn()
    if isinstance(net, nn.Sequential):
        for layer in net:
            h = layer(h)
            print(f"{type(layer).__name__:<12} -> {tuple(h.shape)}")
    else:
        print(net)           # a module of your own: its forward decides the order


# %% [markdown]
# ## 6. One epoch of training
#
# The loop you met in chapter 06, now over a `DataLoader`, for each batch:
# move the batch to the model's `device`, forward, loss, `optimizer.zero_grad()`,
# `loss.backward()`, `optimizer.step()`. Three details make it correct:
#
# * `model.train()` first: BatchNorm then uses the batch's statistics (and updates its
#   running averages), Dropout drops units. Forgetting it after an evaluation silently
#   trains a different model;
# * `zero_grad()` every batch, or the gradients of all previous batches pile up;
# * the **mean loss per example** over the epoch: `loss` is the mean over its batch, so
#   weight it by the batch size and divide by the number of examples; a plain mean of the
#   batch losses over-weights a small last batch. Turn it into a Python number
#   (`loss.item()`) so no autograd graph is kept alive.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_06", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 3 · `train_one_epoch(model, loader, loss_fn, optimizer, device)` (2 points)
#
# Train `model` for one pass over `loader` as described above and return the mean loss
# per example as a Python `float`:
#
# * `model.train()` first; then, for each batch, move `xb` and `yb` to `device` (the loader
#   hands out CPU batches), run **one** forward pass `model(xb)`, compute
#   `loss_fn(output, yb)`, and take one step with the `optimizer` you are given
#   (`zero_grad`, `backward`, `step`);
# * one forward pass per batch matters: every pass in training mode also updates
#   BatchNorm's running statistics, so a second pass (say, to measure the loss again)
#   trains a different model.
#
# The checks run your loop on a tiny CNN with BatchNorm (SGD with momentum, and Adam) and
# compare the loss, the weights and the BatchNorm statistics after the epoch with the
# course's reference loop. They also watch every forward pass (its mode, and whether its
# batch was moved with `.to(device)`: the loader's batches are marked until they are
# moved, so a forgotten `.to(device)` shows even without a GPU), count the optimizer's
# steps, and check that the loss falls.

# %% nbgrader={"grade": false, "grade_id": "train_one_epoch", "locked": false, "schema_version": 3, "solution": true}
def train_one_epoch(model, loader, loss_fn, optimizer, device):
    """One epoch of training; returns the mean loss per example (a float)."""
    ### BEGIN SOLUTION
    model.train()
    total, count = 0.0, 0
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        loss = loss_fn(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
        count += len(xb)
    return total / count
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_train_one_epoch", "locked": true, "points": 2, "schema_version": 3, "solution": false}
torch.manual_seed(0)
toy_x, toy_y = torch.randn(10, 4), torch.tensor([0, 1] * 5)
toy_model = nn.Sequential(nn.Linear(4, 2))
toy_loader = DataLoader(TensorDataset(toy_x, toy_y), batch_size=4)    # batches of 4, 4, 2
toy_opt = torch.optim.SGD(toy_model.parameters(), lr=0.1)
with torch.no_grad():
    before_c = nn.functional.cross_entropy(toy_model(toy_x), toy_y).item()
passes_c = []                                                         # (training mode, gradients on)
hook_c = toy_model.register_forward_pre_hook(lambda m, a: passes_c.append((m.training, torch.is_grad_enabled())))
try:
    with warnings.catch_warnings():      # e.g. float() of a tensor that requires grad
        warnings.simplefilter("ignore")
        loss_c = train_one_epoch(toy_model.eval(), toy_loader, nn.CrossEntropyLoss(), toy_opt, "cpu")
finally:
    hook_c.remove()
assert isinstance(loss_c, float), f"return a Python float (loss.item()), got {type(loss_c)}"
assert len(passes_c) == 3, f"3 batches need 3 forward passes, one per batch; the model ran {len(passes_c)}"
assert all(mode for mode, _ in passes_c), "every pass must run in training mode: call model.train() first"
with torch.no_grad():
    after_c = nn.functional.cross_entropy(toy_model(toy_x), toy_y).item()
assert after_c < before_c, f"one epoch should lower the loss: {before_c:.4f} -> {after_c:.4f}"
print("visible checks passed")
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch10.train_one_epoch", train_one_epoch)
### END HIDDEN TESTS

# %% [markdown]
# ## 7. Evaluation
#
# Evaluation runs the same forward pass without learning, and two switches matter:
#
# * `model.eval()`: BatchNorm uses the running averages it collected during training,
#   Dropout keeps every unit. Without it, results change from call to call and BatchNorm's
#   statistics drift towards the validation data;
# * `torch.no_grad()`: no gradient will be needed, so autograd need not record the
#   graph, which saves memory and time.
#
# Accuracy is the fraction of examples whose largest logit is the true class.

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_07", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 4 · `evaluate(model, loader, loss_fn, device) -> (loss, accuracy)` (2 points)
#
# Return the mean loss per example and the accuracy (a fraction in [0, 1]), both Python
# floats. Every forward pass runs in evaluation mode (`model.eval()`) and inside
# `torch.no_grad()` (or `torch.inference_mode()`), on batches moved to `device`; nothing
# is learned (no `backward`, the weights and their `.grad` stay as they are). You may put
# the model back in the mode it had when you return (the checks look at the mode of each
# forward pass, not at the mode afterwards). The checks compare the loss and the accuracy
# with the course's reference loop on a tiny CNN with BatchNorm and Dropout.

# %% nbgrader={"grade": false, "grade_id": "evaluate", "locked": false, "schema_version": 3, "solution": true}
def evaluate(model, loader, loss_fn, device):
    """Mean loss per example and accuracy of `model` on `loader` (no learning)."""
    ### BEGIN SOLUTION
    model.eval()
    total, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            out = model(xb)
            total += loss_fn(out, yb).item() * len(xb)
            correct += (out.argmax(dim=1) == yb).sum().item()
            count += len(xb)
    return total / count, correct / count
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_evaluate", "locked": true, "points": 2, "schema_version": 3, "solution": false}
fixed = nn.Linear(2, 3)
with torch.no_grad():
    fixed.weight.copy_(torch.eye(3, 2))
    fixed.bias.zero_()
pts = torch.tensor([[2.0, 0.0], [0.0, 2.0], [1.0, 0.0]])     # logits = the points (third class 0)
pts_loader = DataLoader(TensorDataset(pts, torch.tensor([0, 1, 2])), batch_size=2)
passes_e = []                                                         # (training mode, gradients on)
hook_e = fixed.register_forward_pre_hook(lambda m, a: passes_e.append((m.training, torch.is_grad_enabled())))
try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loss_e, acc_e = evaluate(fixed.train(), pts_loader, nn.CrossEntropyLoss(), "cpu")
finally:
    hook_e.remove()
with torch.no_grad():
    expected_loss = nn.functional.cross_entropy(fixed(pts), torch.tensor([0, 1, 2])).item()
assert isinstance(acc_e, float) and abs(acc_e - 2 / 3) < 1e-6, f"2 of 3 are right: accuracy 2/3, got {acc_e!r}"
assert abs(loss_e - expected_loss) < 1e-6, f"mean loss per example {expected_loss:.6f}, got {loss_e!r}"
assert passes_e and not any(mode for mode, _ in passes_e), "every pass must run in eval mode: call model.eval() first"
assert not any(grad for _, grad in passes_e), "run the loop inside `with torch.no_grad():`"
print("visible checks passed")
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch10.evaluate", evaluate)
### END HIDDEN TESTS

# %% [markdown]
# ## 8. Training for real: Adam, a learning-rate schedule, progress bars
#
# Now the pieces run together: `CrossEntropyLoss`, the Adam optimiser and a **learning-rate
# scheduler**. Large steps are good early, when the weights are far from any good
# solution; later they make the loss bounce around a minimum, and smaller steps settle into
# it. `StepLR(step_size, gamma)` multiplies the learning rate by `gamma` every `step_size`
# epochs. The scheduler steps once per epoch, *after* that epoch's optimiser steps.
#
# The model lives on `device` (a GPU when there is one): `model.to(device)` moves its
# weights, and every batch must be moved too (your `train_one_epoch` does it). In quick
# mode the run is tiny (about a thousand images), so expect modest accuracy; the full run
# takes a while on a CPU. The benchmark script `bench/fashion_mnist.py` measures what this
# CNN reaches on the whole test set.
#
# **Which device?** `default_device()` picks the accelerator when there is one. The idioms
# you will meet elsewhere:
#
# * `torch.device("cuda")` is the current GPU, `torch.device("cuda:1")` the second one, and
#   `torch.cuda.device_count()` says how many there are;
# * `CUDA_VISIBLE_DEVICES=1 python train.py` (an environment variable, set before Python
#   starts) hides every GPU but the second, which the program then sees as `cuda:0`: the
#   usual way to run two jobs on two GPUs;
# * `torch.accelerator` (PyTorch 2.6 and later) names whatever accelerator is present,
#   CUDA, Apple's MPS or Intel's XPU, so code need not test each kind;
# * several GPUs for one model: `nn.DataParallel(model)` splits each batch over the GPUs
#   of one process (simple, but slower and no longer recommended); `DistributedDataParallel`
#   (DDP) runs one process per GPU, each on its own share of the data (a
#   `DistributedSampler`), and averages the gradients after every backward pass. DDP is
#   the standard today, across machines too; the training loop itself stays the same.

# %%
print("training on:", device)
print("CUDA GPUs visible:", torch.cuda.device_count(),
      "| CUDA_VISIBLE_DEVICES =", os.environ.get("CUDA_VISIBLE_DEVICES"))
print("torch.accelerator:", torch.accelerator.current_accelerator() if torch.accelerator.is_available() else None)
second_gpu = torch.device("cuda:1")                  # a name only: nothing is allocated
print(f"{second_gpu}: type {second_gpu.type!r}, index {second_gpu.index}")

# %%
with needs("build_cnn", "train_one_epoch", "evaluate"):
    seed_everything(0)
    model = build_cnn().to(device)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    epochs = pick(full=8, quick=2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(epochs // 2, 1), gamma=0.3)

    history = {"train loss": [], "validation loss": []}
    for epoch in progress(range(epochs), desc="epochs"):
        lr = optimizer.param_groups[0]["lr"]
        train_loss = train_one_epoch(model, progress(train_loader, desc=f"epoch {epoch + 1}"),
                                     loss_fn, optimizer, device)
        val_loss, val_acc = evaluate(model, val_loader, loss_fn, device)
        scheduler.step()
        history["train loss"].append(train_loss)
        history["validation loss"].append(val_loss)
        print(f"epoch {epoch + 1}: lr {lr:.0e}, train loss {train_loss:.3f}, "
              f"validation loss {val_loss:.3f}, accuracy {val_acc:.3f}")

    loss_curve(history, title="Fashion-MNIST CNN", xlabel="epoch", log=False)
    plt.show()

# %% [markdown]
# Only now, with every choice made, do we look at the test images, once:

# %%
test_set = Subset(datasets.FashionMNIST(root=DATA, train=False, transform=to_input),
                  range(pick(full=10000, quick=500)))
with needs("build_cnn", "train_one_epoch", "evaluate"):
    test_loss, test_acc = evaluate(model, DataLoader(test_set, batch_size=256), loss_fn, device)
    print(f"test: loss {test_loss:.3f}, accuracy {test_acc:.3f} on {len(test_set)} images")


# %% [markdown]
# ## 9. Metrics beyond accuracy
#
# One accuracy number hides *which* classes fail. For each class $c$, count over the
# examples:
#
# * $TP_c$: truly $c$ and predicted $c$; $FP_c$: predicted $c$ but truly something else;
#   $FN_c$: truly $c$ but predicted something else;
# * **precision** $= TP_c / (TP_c + FP_c)$: when the model says "shirt", how often is it a shirt?
# * **recall** $= TP_c / (TP_c + FN_c)$: of all the shirts, how many did it find?
# * **F1** $= 2PR / (P + R)$, their harmonic mean, high only when both are.
#
# A class that is never predicted has no precision (0 / 0); one absent from the data has
# no recall. We follow scikit-learn's `zero_division=0`: such a value is 0 (and so is F1
# where $P + R = 0$). Small evaluation sets and poor early models produce these cases all
# the time, so the code must not divide by zero.
#
# The **confusion matrix** shows all the counts at once: entry `[i, j]` counts the
# examples of true class `i` predicted as `j`. The diagonal holds the correct answers;
# every bright square off the diagonal is a specific confusion (shirt ↔ T-shirt, say).

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_08", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 5 · `confusion_matrix(y_true, y_pred, n_classes)` (2 points)
#
# Return an int64 tensor of shape `(n_classes, n_classes)` on the inputs' device whose
# entry `[i, j]` counts the examples with true class `i` predicted as `j` (scikit-learn's
# convention). Careful: `cm[y_true, y_pred] += 1` does **not** count repeated pairs twice.
# Create any new tensor on the inputs' device (`device=y_true.device`): the checks run your
# function a second time with another default device, so a tensor created without
# `device=` shows even without a GPU. Do not modify the tensors you are given. The checks
# compare with scikit-learn, including classes that never occur.

# %% nbgrader={"grade": false, "grade_id": "confusion_matrix", "locked": false, "schema_version": 3, "solution": true}
def confusion_matrix(y_true, y_pred, n_classes):
    """Counts of (true class, predicted class) pairs, rows = true class."""
    ### BEGIN SOLUTION
    pair = y_true * n_classes + y_pred             # one number per (true, predicted) pair
    counts = torch.bincount(pair, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_confusion_matrix", "locked": true, "points": 2, "schema_version": 3, "solution": false}
cm_c = confusion_matrix(torch.tensor([0, 0, 1, 1, 1]), torch.tensor([0, 1, 1, 1, 0]), 3)
assert isinstance(cm_c, torch.Tensor), f"return a torch tensor, got {type(cm_c)}"
assert cm_c.dtype == torch.int64 and cm_c.shape == (3, 3), f"int64 (3, 3), got {cm_c.dtype} {tuple(cm_c.shape)}"
assert cm_c.tolist() == [[1, 1, 0], [1, 2, 0], [0, 0, 0]], f"expected [[1, 1, 0], [1, 2, 0], [0, 0, 0]], got {cm_c.tolist()}"
print("visible checks passed")
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch10.confusion_matrix", confusion_matrix)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "locked_09", "locked": true, "schema_version": 3, "solution": false}
# ### Exercise 6 · `precision_recall_f1(y_true, y_pred, n_classes)` (2 points)
#
# `y_true`, `y_pred`: int64 tensors of class indices, shape `(N,)`. Return three `float32`
# tensors of shape `(n_classes,)` on the inputs' device: per-class precision, recall and
# F1, with 0 wherever a denominator is 0 (like scikit-learn's `zero_division=0`).
# Classes that never occur still get their entry. No Python loop over examples needed
# (you may build on your `confusion_matrix`, or count directly; while this exercise is
# checked, `confusion_matrix` is the course's own, so a mistake there is not counted
# twice). As above, create any new tensor on the inputs' device, and do not modify the
# tensors you are given. The checks compare with scikit-learn (`zero_division=0`).

# %% nbgrader={"grade": false, "grade_id": "precision_recall_f1", "locked": false, "schema_version": 3, "solution": true}
def precision_recall_f1(y_true, y_pred, n_classes):
    """Per-class precision, recall and F1 (float32 tensors, 0 where undefined)."""
    ### BEGIN SOLUTION
    classes = torch.arange(n_classes, device=y_true.device)
    is_true = y_true[:, None] == classes          # (N, n_classes) one-hot of the truth
    is_pred = y_pred[:, None] == classes          # (N, n_classes) one-hot of the predictions
    tp = (is_true & is_pred).sum(dim=0).float()
    n_pred = is_pred.sum(dim=0).float()           # TP + FP
    n_true = is_true.sum(dim=0).float()           # TP + FN
    zero = torch.zeros_like(tp)
    precision = torch.where(n_pred > 0, tp / n_pred.clamp(min=1), zero)
    recall = torch.where(n_true > 0, tp / n_true.clamp(min=1), zero)
    # 2PR / (P + R) = 2 TP / (2 TP + FP + FN): no division by zero unless both counts are 0
    f1 = torch.where(n_pred + n_true > 0, 2 * tp / (n_pred + n_true).clamp(min=1), zero)
    ### END SOLUTION
    return precision, recall, f1


# %% nbgrader={"grade": true, "grade_id": "test_precision_recall_f1", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# class 0: 2 true, 3 predicted, 2 right; class 1: 2 true, 1 predicted (right); class 2: never occurs
p_c, r_c, f_c = precision_recall_f1(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 0, 1, 0]), 3)
assert all(isinstance(v, torch.Tensor) for v in (p_c, r_c, f_c)), "return three torch tensors"
assert p_c.dtype == torch.float32 and p_c.shape == (3,), f"float32 of shape (3,), got {p_c.dtype} {tuple(p_c.shape)}"
assert torch.allclose(p_c, torch.tensor([2 / 3, 1.0, 0.0])), f"precision should be [0.667, 1, 0], got {p_c}"
assert torch.allclose(r_c, torch.tensor([1.0, 0.5, 0.0])), f"recall should be [1, 0.5, 0], got {r_c}"
assert torch.allclose(f_c, torch.tensor([0.8, 2 / 3, 0.0])), f"F1 should be [0.8, 0.667, 0], got {f_c}"
print("visible checks passed")
### BEGIN HIDDEN TESTS
from autograder import check as _check
_check("ch10.precision_recall_f1", precision_recall_f1)
### END HIDDEN TESTS

# %% [markdown]
# Now on the validation images, next to scikit-learn's versions (which the hidden checks
# use as the oracle): the numbers should agree to the last digit.

# %%
from IPython.display import display
from sklearn import metrics as skm

def predict(model, loader):
    """True labels, predicted labels and class probabilities of every example."""
    model.eval()
    ys, probs = [], []
    with torch.no_grad():
        for xb, yb in loader:
            probs.append(torch.softmax(model(xb.to(device)), dim=1).cpu())
            ys.append(yb)
    probs = torch.cat(probs)
    return torch.cat(ys), probs.argmax(dim=1), probs

with needs("build_cnn", "train_one_epoch", "precision_recall_f1"):
    y_val, pred_val, prob_val = predict(model, val_loader)
    precision, recall, f1 = precision_recall_f1(y_val, pred_val, 10)
    sk_p, sk_r, sk_f, support = skm.precision_recall_fscore_support(y_val, pred_val, labels=range(10),
                                                                    zero_division=0)
    table = pd.DataFrame({"precision": precision.numpy(), "recall": recall.numpy(), "F1": f1.numpy(),
                          "support": support}, index=CLASSES)
    print("largest difference from scikit-learn:",
          float(np.abs(np.stack([sk_p, sk_r, sk_f]) - torch.stack([precision, recall, f1]).numpy()).max()))
    display(table.round(3))

# %%
with needs("build_cnn", "train_one_epoch", "confusion_matrix"):
    cm = confusion_matrix(y_val, pred_val, 10)
    print("the same as scikit-learn's:",
          np.array_equal(cm.numpy(), skm.confusion_matrix(y_val, pred_val, labels=range(10))))
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    im = ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(10), CLASSES, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(10), CLASSES, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(10):
        for j in range(10):
            if cm[i, j]:
                ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
    fig.colorbar(im)
    ax.set_title("Confusion matrix (validation)")
    plt.tight_layout()
    plt.show()

# %% [markdown]
# ## 10. One-vs-rest ROC curves
#
# Precision and recall judge the *decision* (the arg-max). The model gives more: a
# probability for every class. Treat each class as its own yes/no question ("is it a
# shirt?") and sweep the threshold on that class's probability: each threshold gives a
# true-positive rate (recall) and a false-positive rate. The curve of all of them is the
# **ROC curve**; the area under it (AUC) is the chance that a random shirt gets a higher
# "shirt" score than a random non-shirt. 1 is perfect, 0.5 is guessing.

# %%
with needs("build_cnn", "train_one_epoch", "evaluate"):
    fig, ax = plt.subplots(figsize=(6, 5))
    for c, name in enumerate(CLASSES):
        is_c = (y_val == c).numpy()
        if is_c.all() or not is_c.any():
            continue                      # a ROC curve needs both positives and negatives
        fpr, tpr, _ = skm.roc_curve(is_c, prob_val[:, c].numpy())
        ax.plot(fpr, tpr, label=f"{name} (AUC {skm.auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="guessing")
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.set_title("One-vs-rest ROC curves (validation)")
    ax.legend(fontsize=7)
    plt.show()

# %% [markdown]
# ## 11. Saving and loading
#
# Save the **`state_dict`**, a dictionary of named tensors (weights, biases, BatchNorm
# statistics), not the model object: loading then only needs the code that builds the
# architecture (`build_cnn`), not the pickled class of the day. Tensors remember their
# device: a model saved on a GPU loads onto a GPU. `map_location` says where they should go
# instead, so a model trained on a GPU opens on a laptop without one.

# %%
with needs("build_cnn", "train_one_epoch", "evaluate"):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "fashion_cnn.pt")
        torch.save(model.state_dict(), path)
        print(f"saved {len(model.state_dict())} tensors, {os.path.getsize(path) / 1e6:.2f} MB")
        restored = build_cnn()
        restored.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    restored.eval()
    model.eval()
    with torch.no_grad():
        xb, _ = next(iter(val_loader))
        same = torch.allclose(restored(xb), model(xb.to(device)).cpu(), atol=1e-6)
    print("restored model gives the same logits:", same)

# %% [markdown]
# You can also save the **whole model object**, `torch.save(model, path)`. That pickles the
# module, and a pickle stores a *reference* to the model's class (its module and name,
# here `torch.nn.modules.container.Sequential`, or `__main__.Net` for a class of your
# own), not its code. Loading then needs that very class, importable under the same name,
# with a compatible `__init__`: rename the class, move it to another file, or load the
# file in a script that never defined it, and the file no longer opens. Worse, unpickling
# can run arbitrary code, so since PyTorch 2.6 `torch.load` defaults to
# `weights_only=True`, which loads tensors and plain containers only and refuses anything
# else: a whole model then needs `weights_only=False`, for files you trust. (Some
# tutorials pass a `save_model_obj` argument: no PyTorch saving function has one.)

# %%
with needs("build_cnn", "train_one_epoch", "evaluate"):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "whole_model.pt")
        torch.save(model, path)
        try:
            torch.load(path)                                # weights_only=True: refused
        except Exception as err:                            # an UnpicklingError
            print("torch.load with weights_only=True refuses a pickled module:", type(err).__name__)
        whole = torch.load(path, map_location="cpu", weights_only=False)   # a file we trust
    print(f"loaded back a {type(whole).__name__} with {sum(p.numel() for p in whole.parameters()):,} "
          "parameters")

# %% [markdown]
# ## 12. What makes the input pipeline fast or slow
#
# A GPU can consume batches faster than Python prepares them: then the *data*, not the
# model, sets the pace. We time one pass over the same images (no model at all) in
# several ways. In quick mode the subset is small, so the numbers are rough, and process
# start-up weighs more; run the full mode to see the real ratios.
#
# * **PIL transforms per item** (what torchvision and `FMDataset` do): each image is
#   turned into a PIL picture, then a tensor, one at a time, in Python;
# * **`num_workers=2`**: two worker processes prepare batches in parallel with the main
#   process; they cost start-up time and pay off when per-item work is heavy;
# * **tensors once**: convert the whole set to one normalised tensor up front
#   (`TensorDataset`); an item is then a mere index, which is why it is the fastest
#   when the data fits in memory (no per-epoch augmentation, though);
# * **batch size**: fewer, larger batches mean less Python overhead per image;
# * **`pin_memory=True`** puts batches in page-locked memory so copies to a GPU are faster
#   (and can overlap with computation); it only matters with a GPU.

# %%
n_time = pick(full=10000, quick=600)
pil_set = Subset(datasets.FashionMNIST(root=DATA, train=True, transform=to_input), range(n_time))
x_all = (tv_train.data[:n_time].float().div(255).unsqueeze(1) - MEAN) / STD
tensor_set = TensorDataset(x_all, tv_train.targets[:n_time])

def seconds_per_pass(dataset, **options):
    """Wall time of one pass over a DataLoader (moving batches to the device), best of 2."""
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        for xb, yb in DataLoader(dataset, **options):
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
        best = min(best, time.perf_counter() - start)
    return best

setups = {
    "PIL transforms, batch 64, 0 workers": (pil_set, dict(batch_size=64)),
    "PIL transforms, batch 64, 2 workers": (pil_set, dict(batch_size=64, num_workers=2)),
    "tensors, batch 64, 0 workers": (tensor_set, dict(batch_size=64)),
    "tensors, batch 256, 0 workers": (tensor_set, dict(batch_size=256)),
    "tensors, batch 16, 0 workers": (tensor_set, dict(batch_size=16)),
}
if device.type == "cuda":
    setups["tensors, batch 256, pin_memory"] = (tensor_set, dict(batch_size=256, pin_memory=True))
timings = {name: seconds_per_pass(ds, **opts) for name, (ds, opts) in progress(setups.items(), desc="timing")}
speed = pd.DataFrame({"seconds": timings, "images per second": {k: n_time / v for k, v in timings.items()}})
print(f"one pass over {n_time} images" + ("" if device.type == "cuda" else " (no GPU here: pin_memory not measured)"))
speed.round(4)

# %%
fig, ax = plt.subplots(figsize=(7, 2.8))
ax.barh(list(speed.index), speed["images per second"])
ax.set_xscale("log")
ax.set_xlabel("images per second (log scale)")
ax.set_title(f"Input pipeline, {n_time} images" + (" [quick mode]" if QUICK else ""))
plt.tight_layout()
plt.show()

# %% [markdown]
# What to take from the numbers: per-item PIL work dominates everything else, by one to
# two orders of magnitude. Workers help exactly there (on a machine with free cores), and
# not at all for ready-made tensors. When augmentation is needed, either use workers or
# write the augmentation on whole batches of tensors (random shifts and flips are just
# indexing), as `bench/fashion_mnist.py` does to train the full model on two CPU cores.

# %% [markdown]
# ## Check all your answers at once
#
# `check_chapter` runs the grader's checks for every exercise and prints a verdict each.
# The checks of `build_cnn` train a model, so this takes a little while; in quick mode
# (autograding) it is skipped, since the hidden tests run the very same checks.

# %%
if not QUICK:
    check_chapter("ch10", globals());

# %% [markdown]
# ## What you built
#
# A whole project: data read three ways (the raw files by hand, torchvision, a table) and
# proved identical, a folder of image files, transforms and augmentation,
# loaders, a CNN, training and evaluation loops that respect train/eval modes, metrics
# checked against scikit-learn, ROC curves, a saved and restored model, and measurements
# of the input pipeline. `bench/fashion_mnist.py` trains the same CNN on the training
# images and reports its accuracy on all 10,000 test images: a quick mode (one epoch on
# part of the data, targeting 0.85 within a minute on two CPU cores) and a full mode
# (fifteen epochs with batched augmentation, targeting 0.92).
#
# **One step further: past 93%.** When a small CNN levels off, the first thing to try is
# *width*, before depth or tricks: the same two blocks with twice the channels (1 -> 32 -> 64),
# which lets each block detect more kinds of edges and textures. Two details come with it:
# a convolution followed by BatchNorm needs no bias of its own (BatchNorm subtracts the
# mean, so the bias would cancel, and its shift `beta` does the job), and a wider model
# wants more epochs of augmented data before it stops improving (thirty instead of
# fifteen). Each epoch costs about twice as much on a CPU. Run
# `python bench/fashion_mnist.py --mode full --model wide --seeds 3` to see the mean and the
# spread over three seeds (the README lists what it measured). The benchmark also prints the
# accuracy when each test image's prediction is averaged with its mirror image's
# (test-time augmentation: the model learned that a mirrored garment is the same garment).
