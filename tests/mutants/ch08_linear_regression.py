"""Chapter 08: plausible wrong answers (each must lose its exercise's points, with the
message a learner would need) and correct answers written differently (each keeps them)."""

from mutation import Variant

MUTANTS = {
    "numpy_fit": [
        Variant("gradient without the factor 2", """
            def numpy_fit(x, y, lr, epochs):
                a, b = 0.0, 0.0
                for _ in range(epochs):
                    error = (a + b * x) - y
                    a, b = a - lr * error.mean(), b - lr * (x * error).mean()
                return float(a), float(b)
            """, "misses the factor 2", "value"),
        Variant("sum instead of mean", """
            def numpy_fit(x, y, lr, epochs):
                a, b = 0.0, 0.0
                for _ in range(epochs):
                    error = (a + b * x) - y
                    a, b = a - lr * 2 * error.sum(), b - lr * 2 * (x * error).sum()
                return float(a), float(b)
            """, "not the sum", "value"),
        Variant("b updated after a changed", """
            def numpy_fit(x, y, lr, epochs):
                a, b = 0.0, 0.0
                for _ in range(epochs):
                    a = a - lr * 2 * ((a + b * x) - y).mean()
                    b = b - lr * 2 * (x * ((a + b * x) - y)).mean()
                return float(a), float(b)
            """, "update a and b together", "value"),
        Variant("gradient ascent", """
            def numpy_fit(x, y, lr, epochs):
                a, b = 0.0, 0.0
                for _ in range(epochs):
                    error = (a + b * x) - y
                    a, b = a + lr * 2 * error.mean(), b + lr * 2 * (x * error).mean()
                return float(a), float(b)
            """, "subtract lr * gradient", "value"),
        Variant("one epoch too few", """
            def numpy_fit(x, y, lr, epochs):
                a, b = 0.0, 0.0
                for _ in range(1, epochs):
                    error = (a + b * x) - y
                    a, b = a - lr * 2 * error.mean(), b - lr * 2 * (x * error).mean()
                return float(a), float(b)
            """, "one epoch too few", "value"),
        Variant("returns (b, a)", """
            def numpy_fit(x, y, lr, epochs):
                a, b = 0.0, 0.0
                for _ in range(epochs):
                    error = (a + b * x) - y
                    a, b = a - lr * 2 * error.mean(), b - lr * 2 * (x * error).mean()
                return float(b), float(a)
            """, "swapped", "value"),
        Variant("uses torch", """
            def numpy_fit(x, y, lr, epochs):
                import torch
                xt, yt = torch.from_numpy(x), torch.from_numpy(y)
                a = torch.zeros((), dtype=torch.float64, requires_grad=True)
                b = torch.zeros((), dtype=torch.float64, requires_grad=True)
                for _ in range(epochs):
                    loss = ((a + b * xt - yt) ** 2).mean()
                    ga, gb = torch.autograd.grad(loss, [a, b])
                    with torch.no_grad():
                        a -= lr * ga
                        b -= lr * gb
                return float(a), float(b)
            """, "numpy only", "rule"),
        Variant("flattens x in place", """
            def numpy_fit(x, y, lr, epochs):
                x.shape = (-1,)
                y.shape = (-1,)
                a, b = 0.0, 0.0
                for _ in range(epochs):
                    error = (a + b * x) - y
                    a, b = a - lr * 2 * error.mean(), b - lr * 2 * (x * error).mean()
                return float(a), float(b)
            """, "work on a copy", "contract"),
    ],
    "ManualLinearRegression": [
        Variant("plain tensors, not parameters", """
            class ManualLinearRegression(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.a = torch.randn(1, requires_grad=True)
                    self.b = torch.randn(1, requires_grad=True)

                def forward(self, x):
                    return self.a + self.b * x
            """, "register exactly two parameters named `a` and `b`", "contract"),
        Variant("parameters moved to the default device in __init__", """
            class ManualLinearRegression(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.a = nn.Parameter(torch.randn(1)).to(default_device())
                    self.b = nn.Parameter(torch.randn(1)).to(default_device())

                def forward(self, x):
                    return self.a + self.b * x
            """, "keep parameters registered so that .to(device) moves them", "device"),
        Variant("named weight and bias", """
            class ManualLinearRegression(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.bias = nn.Parameter(torch.randn(1))
                    self.weight = nn.Parameter(torch.randn(1))

                def forward(self, x):
                    return self.bias + self.weight * x
            """, "named `a` and `b`", "value"),
        Variant("a and b swapped in forward", """
            class ManualLinearRegression(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.a = nn.Parameter(torch.randn(1))
                    self.b = nn.Parameter(torch.randn(1))

                def forward(self, x):
                    return self.b + self.a * x
            """, "a and b are swapped", "value"),
        Variant("no intercept", """
            class ManualLinearRegression(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.a = nn.Parameter(torch.randn(1))
                    self.b = nn.Parameter(torch.randn(1))

                def forward(self, x):
                    return self.b * x
            """, "the intercept is missing", "value"),
        Variant("forward through .item()", """
            class ManualLinearRegression(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.a = nn.Parameter(torch.randn(1))
                    self.b = nn.Parameter(torch.randn(1))

                def forward(self, x):
                    return self.a.item() + self.b.item() * x
            """, "the prediction must stay in the graph", "contract"),
        Variant("scalar parameters", """
            class ManualLinearRegression(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.a = nn.Parameter(torch.randn(()))
                    self.b = nn.Parameter(torch.randn(()))

                def forward(self, x):
                    return self.a + self.b * x
            """, "shape (1,), float32", "value"),
        Variant("float64 parameters", """
            class ManualLinearRegression(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.a = nn.Parameter(torch.randn(1, dtype=torch.float64))
                    self.b = nn.Parameter(torch.randn(1, dtype=torch.float64))

                def forward(self, x):
                    return (self.a + self.b * x).float()
            """, "shape (1,), float32", "value"),
    ],
    "make_train_step": [
        Variant("no zero_grad", """
            def make_train_step(model, loss_fn, optimizer):
                def train_step(x, y):
                    model.train()
                    loss = loss_fn(model(x), y)
                    loss.backward()
                    optimizer.step()
                    return loss.item()
                return train_step
            """, "optimizer.zero_grad()", "value"),
        Variant("no model.train()", """
            def make_train_step(model, loss_fn, optimizer):
                def train_step(x, y):
                    loss = loss_fn(model(x), y)
                    loss.backward()
                    optimizer.step()
                    optimizer.zero_grad()
                    return loss.item()
                return train_step
            """, "model.train()", "contract"),
        Variant("step before backward", """
            def make_train_step(model, loss_fn, optimizer):
                def train_step(x, y):
                    model.train()
                    loss = loss_fn(model(x), y)
                    optimizer.step()
                    loss.backward()
                    optimizer.zero_grad()
                    return loss.item()
                return train_step
            """, "the parameters never changed", "value"),
        Variant("always MSE", """
            def make_train_step(model, loss_fn, optimizer):
                def train_step(x, y):
                    model.train()
                    loss = ((model(x) - y) ** 2).mean()
                    loss.backward()
                    optimizer.step()
                    optimizer.zero_grad()
                    return loss.item()
                return train_step
            """, "use the loss_fn given", "value"),
        Variant("returns the loss tensor", """
            def make_train_step(model, loss_fn, optimizer):
                def train_step(x, y):
                    model.train()
                    loss = loss_fn(model(x), y)
                    loss.backward()
                    optimizer.step()
                    optimizer.zero_grad()
                    return loss
                return train_step
            """, "plain number", "contract"),
        Variant("zero_grad between backward and step", """
            def make_train_step(model, loss_fn, optimizer):
                def train_step(x, y):
                    model.train()
                    loss = loss_fn(model(x), y)
                    loss.backward()
                    optimizer.zero_grad()
                    optimizer.step()
                    return loss.item()
                return train_step
            """, "the parameters never changed", "value"),
        Variant("normalises the batch in place", """
            def make_train_step(model, loss_fn, optimizer):
                def train_step(x, y):
                    model.train()
                    x -= x.mean(dim=0, keepdim=True)
                    x += x.mean(dim=0, keepdim=True)
                    loss = loss_fn(model(x), y)
                    loss.backward()
                    optimizer.step()
                    optimizer.zero_grad()
                    return loss.item()
                return train_step
            """, "work on a copy", "contract"),
    ],
    "CustomDataset": [
        Variant("length one too short", """
            class CustomDataset(Dataset):
                def __init__(self, x_tensor, y_tensor):
                    self.x, self.y = x_tensor, y_tensor

                def __getitem__(self, index):
                    return self.x[index], self.y[index]

                def __len__(self):
                    return len(self.x) - 1
            """, "len(dataset) must be the number of examples", "value"),
        Variant("length is the number of features", """
            class CustomDataset(Dataset):
                def __init__(self, x_tensor, y_tensor):
                    self.x, self.y = x_tensor, y_tensor

                def __getitem__(self, index):
                    return self.x[index], self.y[index]

                def __len__(self):
                    return self.x.shape[-1]
            """, "not the number of features", "value"),
        Variant("items cast to float32", """
            class CustomDataset(Dataset):
                def __init__(self, x_tensor, y_tensor):
                    self.x, self.y = x_tensor.float(), y_tensor.float()

                def __getitem__(self, index):
                    return self.x[index], self.y[index]

                def __len__(self):
                    return len(self.x)
            """, "keep the input's dtype", "value"),
        Variant("returns numpy arrays", """
            class CustomDataset(Dataset):
                def __init__(self, x_tensor, y_tensor):
                    self.x, self.y = x_tensor.cpu().numpy(), y_tensor.cpu().numpy()

                def __getitem__(self, index):
                    return self.x[index], self.y[index]

                def __len__(self):
                    return len(self.x)
            """, "return tensors", "contract"),
        Variant("x and y swapped", """
            class CustomDataset(Dataset):
                def __init__(self, x_tensor, y_tensor):
                    self.x, self.y = x_tensor, y_tensor

                def __getitem__(self, index):
                    return self.y[index], self.x[index]

                def __len__(self):
                    return len(self.x)
            """, "x and y are swapped", "value"),
        Variant("off by one index", """
            class CustomDataset(Dataset):
                def __init__(self, x_tensor, y_tensor):
                    self.x, self.y = x_tensor, y_tensor

                def __getitem__(self, index):
                    return self.x[index - 1], self.y[index - 1]

                def __len__(self):
                    return len(self.x)
            """, "__getitem__(index) returns row index", "value"),
        Variant("tensors copied to the CPU", """
            class CustomDataset(Dataset):
                def __init__(self, x_tensor, y_tensor):
                    self.x, self.y = x_tensor.cpu(), y_tensor.cpu()

                def __getitem__(self, index):
                    return self.x[index], self.y[index]

                def __len__(self):
                    return len(self.x)
            """, "keep tensors where they are given", "device"),
    ],
    "make_loaders": [
        Variant("first examples for training", """
            def make_loaders(x, y, train_frac=0.8, batch_size=16, seed=42):
                n_train = int(train_frac * len(x))
                train = TensorDataset(x[:n_train], y[:n_train])
                val = TensorDataset(x[n_train:], y[n_train:])
                return (DataLoader(train, batch_size=batch_size, shuffle=True),
                        DataLoader(val, batch_size=batch_size))
            """, "random_split", "value"),
        Variant("validation on the training subset", """
            def make_loaders(x, y, train_frac=0.8, batch_size=16, seed=42):
                dataset = TensorDataset(x, y)
                n_train = int(train_frac * len(dataset))
                train, val = random_split(dataset, [n_train, len(dataset) - n_train],
                                          generator=torch.Generator().manual_seed(seed))
                return (DataLoader(train, batch_size=batch_size, shuffle=True),
                        DataLoader(torch.utils.data.Subset(dataset, train.indices[:len(val)]),
                                   batch_size=batch_size))
            """, "leaks into training", "value"),
        Variant("sizes swapped", """
            def make_loaders(x, y, train_frac=0.8, batch_size=16, seed=42):
                dataset = TensorDataset(x, y)
                n_val = int(train_frac * len(dataset))
                val, train = random_split(dataset, [n_val, len(dataset) - n_val],
                                          generator=torch.Generator().manual_seed(seed))
                return (DataLoader(train, batch_size=batch_size, shuffle=True),
                        DataLoader(val, batch_size=batch_size))
            """, "the sizes are swapped", "value"),
        Variant("training loader over the whole data", """
            def make_loaders(x, y, train_frac=0.8, batch_size=16, seed=42):
                dataset = TensorDataset(x, y)
                n_train = int(train_frac * len(dataset))
                train, val = random_split(dataset, [n_train, len(dataset) - n_train],
                                          generator=torch.Generator().manual_seed(seed))
                return (DataLoader(dataset, batch_size=batch_size, shuffle=True),
                        DataLoader(val, batch_size=batch_size))
            """, "serves the whole dataset", "value"),
        Variant("training loader not shuffled", """
            def make_loaders(x, y, train_frac=0.8, batch_size=16, seed=42):
                dataset = TensorDataset(x, y)
                n_train = int(train_frac * len(dataset))
                train, val = random_split(dataset, [n_train, len(dataset) - n_train],
                                          generator=torch.Generator().manual_seed(seed))
                return (DataLoader(train, batch_size=batch_size),
                        DataLoader(val, batch_size=batch_size))
            """, "shuffle=True", "value"),
        Variant("batch size fixed at 16", """
            def make_loaders(x, y, train_frac=0.8, batch_size=16, seed=42):
                dataset = TensorDataset(x, y)
                n_train = int(train_frac * len(dataset))
                train, val = random_split(dataset, [n_train, len(dataset) - n_train],
                                          generator=torch.Generator().manual_seed(seed))
                return (DataLoader(train, batch_size=16, shuffle=True),
                        DataLoader(val, batch_size=16))
            """, "use the batch_size argument", "value"),
        Variant("x and y split separately", """
            def make_loaders(x, y, train_frac=0.8, batch_size=16, seed=42):
                n_train = int(train_frac * len(x))
                sizes = [n_train, len(x) - n_train]
                xs = random_split(x, sizes, generator=torch.Generator().manual_seed(seed))
                ys = random_split(y, sizes, generator=torch.Generator().manual_seed(seed + 1))
                xt, yt = torch.stack(list(xs[0])), torch.stack(list(ys[0]))
                xv, yv = torch.stack(list(xs[1])), torch.stack(list(ys[1]))
                return (DataLoader(TensorDataset(xt, yt), batch_size=batch_size, shuffle=True),
                        DataLoader(TensorDataset(xv, yv), batch_size=batch_size))
            """, "keep x[k] and y[k] together", "value"),
        Variant("a split that changes at every run", """
            def make_loaders(x, y, train_frac=0.8, batch_size=16, seed=42):
                dataset = TensorDataset(x, y)
                n_train = int(train_frac * len(dataset))
                train, val = random_split(dataset, [n_train, len(dataset) - n_train])
                return (DataLoader(train, batch_size=batch_size, shuffle=True),
                        DataLoader(val, batch_size=batch_size))
            """, "generator=torch.Generator().manual_seed(seed)", "contract"),
    ],
    "fit": [
        Variant("validation without eval()", """
            def fit(model, train_loader, val_loader, loss_fn, optimizer, epochs, device="cpu", checkpoint_path=None):
                train_step = make_train_step(model, loss_fn, optimizer)
                train_losses, val_losses = [], []
                for epoch in range(epochs):
                    total, count = 0.0, 0
                    for xb, yb in train_loader:
                        xb, yb = xb.to(device), yb.to(device)
                        total += train_step(xb, yb) * len(xb)
                        count += len(xb)
                    train_losses.append(total / count)
                    total, count = 0.0, 0
                    with torch.no_grad():
                        for xb, yb in val_loader:
                            xb, yb = xb.to(device), yb.to(device)
                            total += loss_fn(model(xb), yb).item() * len(xb)
                            count += len(xb)
                    val_losses.append(total / count)
                    if checkpoint_path and val_losses[-1] <= min(val_losses):
                        torch.save({"epoch": epoch + 1, "model": model.state_dict(),
                                    "optimizer": optimizer.state_dict(), "val_loss": val_losses[-1]},
                                   checkpoint_path)
                return train_losses, val_losses
            """, "model.eval()", "contract"),
        Variant("never back to training mode", """
            def fit(model, train_loader, val_loader, loss_fn, optimizer, epochs, device="cpu", checkpoint_path=None):
                train_losses, val_losses = [], []
                model.train()
                for epoch in range(epochs):
                    total, count = 0.0, 0
                    for xb, yb in train_loader:
                        xb, yb = xb.to(device), yb.to(device)
                        loss = loss_fn(model(xb), yb)
                        loss.backward()
                        optimizer.step()
                        optimizer.zero_grad()
                        total += loss.item() * len(xb)
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
                    if checkpoint_path and val_losses[-1] <= min(val_losses):
                        torch.save({"epoch": epoch + 1, "model": model.state_dict(),
                                    "optimizer": optimizer.state_dict(), "val_loss": val_losses[-1]},
                                   checkpoint_path)
                return train_losses, val_losses
            """, "call model.train() before each epoch", "contract"),
        Variant("mean of the batch means", """
            def fit(model, train_loader, val_loader, loss_fn, optimizer, epochs, device="cpu", checkpoint_path=None):
                train_step = make_train_step(model, loss_fn, optimizer)
                train_losses, val_losses = [], []
                for epoch in range(epochs):
                    losses = [train_step(xb.to(device), yb.to(device)) for xb, yb in train_loader]
                    train_losses.append(sum(losses) / len(losses))
                    model.eval()
                    with torch.no_grad():
                        losses = [loss_fn(model(xb.to(device)), yb.to(device)).item() for xb, yb in val_loader]
                    val_losses.append(sum(losses) / len(losses))
                    if checkpoint_path and val_losses[-1] <= min(val_losses):
                        torch.save({"epoch": epoch + 1, "model": model.state_dict(),
                                    "optimizer": optimizer.state_dict(), "val_loss": val_losses[-1]},
                                   checkpoint_path)
                return train_losses, val_losses
            """, "mean of the batch losses", "value"),
        Variant("one helper for both phases, given the optimizer during validation", """
            def _run(model, loader, loss_fn, optimizer, device):
                model.train(optimizer is not None)
                total, count = 0.0, 0
                with torch.set_grad_enabled(optimizer is not None):
                    for xb, yb in loader:
                        xb, yb = xb.to(device), yb.to(device)
                        loss = loss_fn(model(xb), yb)
                        if optimizer is not None:
                            loss.backward()
                            optimizer.step()
                            optimizer.zero_grad()
                        total += loss.item() * len(xb)
                        count += len(xb)
                return total / count

            def fit(model, train_loader, val_loader, loss_fn, optimizer, epochs, device="cpu", checkpoint_path=None):
                train_losses, val_losses = [], []
                for epoch in range(epochs):
                    train_losses.append(_run(model, train_loader, loss_fn, optimizer, device))
                    val_losses.append(_run(model, val_loader, loss_fn, optimizer, device))
                    if checkpoint_path and val_losses[-1] <= min(val_losses):
                        torch.save({"epoch": epoch + 1, "model": model.state_dict(),
                                    "optimizer": optimizer.state_dict(), "val_loss": val_losses[-1]},
                                   checkpoint_path)
                return train_losses, val_losses
            """, "validation trained the model", "contract"),
        Variant("batches never moved to the device", """
            def fit(model, train_loader, val_loader, loss_fn, optimizer, epochs, device="cpu", checkpoint_path=None):
                train_step = make_train_step(model, loss_fn, optimizer)
                train_losses, val_losses = [], []
                for epoch in range(epochs):
                    total, count = 0.0, 0
                    for xb, yb in train_loader:
                        total += train_step(xb, yb) * len(xb)
                        count += len(xb)
                    train_losses.append(total / count)
                    model.eval()
                    total, count = 0.0, 0
                    with torch.no_grad():
                        for xb, yb in val_loader:
                            total += loss_fn(model(xb), yb).item() * len(xb)
                            count += len(xb)
                    val_losses.append(total / count)
                    if checkpoint_path and val_losses[-1] <= min(val_losses):
                        torch.save({"epoch": epoch + 1, "model": model.state_dict(),
                                    "optimizer": optimizer.state_dict(), "val_loss": val_losses[-1]},
                                   checkpoint_path)
                return train_losses, val_losses
            """, "move every batch first", "device"),
        Variant("model.cpu() to save the checkpoint", """
            def fit(model, train_loader, val_loader, loss_fn, optimizer, epochs, device="cpu", checkpoint_path=None):
                train_step = make_train_step(model, loss_fn, optimizer)
                train_losses, val_losses = [], []
                for epoch in range(epochs):
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
                    if checkpoint_path and val_losses[-1] <= min(val_losses):
                        torch.save({"epoch": epoch + 1, "model": model.cpu().state_dict(),
                                    "optimizer": optimizer.state_dict(), "val_loss": val_losses[-1]},
                                   checkpoint_path)
                return train_losses, val_losses
            """, "keep the model on `device`", "device"),
        Variant("a checkpoint at every epoch", """
            def fit(model, train_loader, val_loader, loss_fn, optimizer, epochs, device="cpu", checkpoint_path=None):
                train_step = make_train_step(model, loss_fn, optimizer)
                train_losses, val_losses = [], []
                for epoch in range(epochs):
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
                    if checkpoint_path:
                        torch.save({"epoch": epoch + 1, "model": model.state_dict(),
                                    "optimizer": optimizer.state_dict(), "val_loss": val_losses[-1]},
                                   checkpoint_path)
                return train_losses, val_losses
            """, "save only when the validation loss is lower than every earlier one", "value"),
        Variant("make_train_step given its arguments in another order", """
            def fit(model, train_loader, val_loader, loss_fn, optimizer, epochs, device="cpu", checkpoint_path=None):
                train_step = make_train_step(model, optimizer, loss_fn)
                train_losses, val_losses = [], []
                for epoch in range(epochs):
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
                    if checkpoint_path and val_losses[-1] <= min(val_losses):
                        torch.save({"epoch": epoch + 1, "model": model.state_dict(),
                                    "optimizer": optimizer.state_dict(), "val_loss": val_losses[-1]},
                                   checkpoint_path)
                return train_losses, val_losses
            """, "in that order", "dependency"),
    ],
}

ALTERNATIVES = {
    "numpy_fit": [
        Variant("per-point loop, 1-D arrays", """
            def numpy_fit(x, y, lr, epochs):
                xs, ys = x.ravel(), y.ravel()
                n = len(xs)
                a = b = 0.0
                for _ in range(epochs):
                    ga = gb = 0.0
                    for xi, yi in zip(xs, ys):
                        e = a + b * xi - yi
                        ga += 2 * e / n
                        gb += 2 * xi * e / n
                    a, b = a - lr * ga, b - lr * gb
                return a, b
            """),
        Variant("vector of parameters, design matrix, arrays of shape (1,)", """
            def numpy_fit(x, y, lr, epochs):
                X = np.hstack([np.ones_like(x), x])
                theta = np.zeros((2, 1))
                for _ in range(epochs):
                    grad = 2 / len(x) * X.T @ (X @ theta - y)
                    theta -= lr * grad
                return theta[0], theta[1]
            """),
    ],
    "ManualLinearRegression": [
        Variant("register_parameter, addcmul", """
            class ManualLinearRegression(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.register_parameter("a", nn.Parameter(torch.randn(1, dtype=torch.float)))
                    self.register_parameter("b", nn.Parameter(torch.randn(1, requires_grad=True)))

                def forward(self, x):
                    return torch.addcmul(self.a.expand_as(x), self.b.expand_as(x), x)
            """),
        Variant("x times b plus a", """
            class ManualLinearRegression(nn.Module):
                def __init__(self):
                    super(ManualLinearRegression, self).__init__()
                    self.a = nn.Parameter(torch.zeros(1).normal_())
                    self.b = nn.Parameter(torch.zeros(1).normal_())

                def forward(self, x):
                    return x * self.b + self.a
            """),
    ],
    "make_train_step": [
        Variant("zero_grad first, float(loss)", """
            def make_train_step(model, loss_fn, optimizer):
                def train_step(x, y):
                    model.train()
                    optimizer.zero_grad()
                    loss = loss_fn(model(x), y)
                    loss.backward()
                    optimizer.step()
                    return float(loss.detach())
                return train_step
            """),
        Variant("a callable object, model.zero_grad", """
            class _Step:
                def __init__(self, model, loss_fn, optimizer):
                    self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer

                def __call__(self, x, y):
                    self.model.train(True)
                    loss = self.loss_fn(self.model(x), y)
                    loss.backward()
                    self.optimizer.step()
                    self.model.zero_grad(set_to_none=True)
                    return loss.item()

            def make_train_step(model, loss_fn, optimizer):
                return _Step(model, loss_fn, optimizer)
            """),
    ],
    "CustomDataset": [
        Variant("a list of pairs", """
            class CustomDataset(Dataset):
                def __init__(self, x_tensor, y_tensor):
                    self.pairs = list(zip(x_tensor, y_tensor))

                def __getitem__(self, index):
                    return self.pairs[index]

                def __len__(self):
                    return len(self.pairs)
            """),
        Variant("tuple of tensors, shape[0]", """
            class CustomDataset(Dataset):
                def __init__(self, x_tensor, y_tensor):
                    assert x_tensor.shape[0] == y_tensor.shape[0]
                    self.tensors = (x_tensor, y_tensor)

                def __getitem__(self, index):
                    return tuple(t[index] for t in self.tensors)

                def __len__(self):
                    return self.tensors[0].shape[0]
            """),
    ],
    "make_loaders": [
        Variant("a RandomSampler for the training loader", """
            def make_loaders(x, y, train_frac=0.8, batch_size=16, seed=42):
                from torch.utils.data import RandomSampler
                dataset = TensorDataset(x, y)
                n_val = len(dataset) - int(train_frac * len(dataset))
                gen = torch.Generator()
                gen.manual_seed(seed)
                train, val = random_split(dataset, [len(dataset) - n_val, n_val], generator=gen)
                return (DataLoader(train, batch_size=batch_size, sampler=RandomSampler(train)),
                        DataLoader(val, batch_size=batch_size, shuffle=False))
            """),
        Variant("randperm and Subset", """
            def make_loaders(x, y, train_frac=0.8, batch_size=16, seed=42):
                from torch.utils.data import Subset
                dataset = TensorDataset(x, y)
                n_train = int(train_frac * len(dataset))
                perm = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed)).tolist()
                train_loader = DataLoader(Subset(dataset, perm[:n_train]), batch_size, shuffle=True)
                val_loader = DataLoader(Subset(dataset, perm[n_train:]), batch_size)
                return train_loader, val_loader
            """),
    ],
    "fit": [
        Variant("own loop, zero_grad first, set_grad_enabled, best kept in a variable", """
            def fit(model, train_loader, val_loader, loss_fn, optimizer, epochs, device="cpu", checkpoint_path=None):
                history = {"train": [], "val": []}
                best = float("inf")
                for epoch in range(epochs):
                    for phase, loader in (("train", train_loader), ("val", val_loader)):
                        model.train(phase == "train")
                        losses, sizes = [], []
                        with torch.set_grad_enabled(phase == "train"):
                            for xb, yb in loader:
                                xb, yb = xb.to(device), yb.to(device)
                                if phase == "train":
                                    optimizer.zero_grad()
                                loss = loss_fn(model(xb), yb)
                                if phase == "train":
                                    loss.backward()
                                    optimizer.step()
                                losses.append(loss.item())
                                sizes.append(len(xb))
                        history[phase].append(float(np.dot(losses, sizes) / np.sum(sizes)))
                    if checkpoint_path is not None and history["val"][-1] < best:
                        best = history["val"][-1]
                        torch.save(dict(epoch=epoch + 1, val_loss=best, model=model.state_dict(),
                                        optimizer=optimizer.state_dict()), checkpoint_path)
                return history["train"], history["val"]
            """),
        Variant("inference_mode, a helper for the validation, state copied to the CPU", """
            def _evaluate(model, loader, loss_fn, device):
                model.eval()
                total = 0.0
                with torch.inference_mode():
                    for xb, yb in loader:
                        total += loss_fn(model(xb.to(device)), yb.to(device)).item() * xb.shape[0]
                return total / len(loader.dataset)

            def fit(model, train_loader, val_loader, loss_fn, optimizer, epochs, device="cpu", checkpoint_path=None):
                step = make_train_step(model, loss_fn, optimizer)
                train_losses, val_losses = [], []
                for epoch in progress(range(epochs), desc="fit"):
                    losses = [(step(xb.to(device), yb.to(device)), len(xb)) for xb, yb in train_loader]
                    train_losses.append(sum(l * n for l, n in losses) / sum(n for _, n in losses))
                    val_losses.append(_evaluate(model, val_loader, loss_fn, device))
                    if checkpoint_path and val_losses[-1] == min(val_losses):
                        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
                        torch.save({"model": state, "optimizer": optimizer.state_dict(),
                                    "epoch": len(val_losses), "val_loss": float(val_losses[-1])},
                                   checkpoint_path)
                return train_losses, val_losses
            """),
        Variant("the training loss from a separate evaluation pass", """
            def _mean_loss(model, loader, loss_fn, device):
                model.eval()
                total, count = 0.0, 0
                with torch.no_grad():
                    for xb, yb in loader:
                        xb, yb = xb.to(device), yb.to(device)
                        total += loss_fn(model(xb), yb).item() * len(xb)
                        count += len(xb)
                return total / count

            def fit(model, train_loader, val_loader, loss_fn, optimizer, epochs, device="cpu", checkpoint_path=None):
                train_step = make_train_step(model, loss_fn, optimizer)
                train_losses, val_losses, best = [], [], None
                for epoch in range(1, epochs + 1):
                    for xb, yb in train_loader:
                        train_step(xb.to(device), yb.to(device))
                    train_losses.append(_mean_loss(model, train_loader, loss_fn, device))
                    val_losses.append(_mean_loss(model, val_loader, loss_fn, device))
                    if checkpoint_path is not None and (best is None or val_losses[-1] < best):
                        best = val_losses[-1]
                        torch.save({"epoch": epoch, "model": model.state_dict(),
                                    "optimizer": optimizer.state_dict(), "val_loss": best}, checkpoint_path)
                return train_losses, val_losses
            """),
    ],
}
