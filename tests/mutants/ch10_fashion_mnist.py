"""Chapter 10: plausible wrong answers (each must lose its exercise's points, with the
message a learner would need) and correct answers written differently (each keeps them)."""

from mutation import Variant

MUTANTS = {
    "FMDataset": [
        Variant("label column taken as a pixel", """
            class FMDataset(Dataset):
                def __init__(self, df, transform=None):
                    self.df, self.transform = df, transform
                def __len__(self):
                    return len(self.df)
                def __getitem__(self, i):
                    row = self.df.iloc[i].to_numpy()
                    image = Image.fromarray(row[:784].astype(np.uint8).reshape(28, 28), mode="L")
                    if self.transform is not None:
                        image = self.transform(image)
                    return image, int(row[0])
            """, "the pixels are columns 1..784", "value"),
        Variant("transposed image", """
            class FMDataset(Dataset):
                def __init__(self, df, transform=None):
                    self.df, self.transform = df, transform
                def __len__(self):
                    return len(self.df)
                def __getitem__(self, i):
                    row = self.df.iloc[i].to_numpy()
                    image = Image.fromarray(row[1:].astype(np.uint8).reshape(28, 28).T, mode="L")
                    if self.transform is not None:
                        image = self.transform(image)
                    return image, int(row[0])
            """, "the images are transposed", "value"),
        Variant("float pixels, not scaled by ToTensor", """
            class FMDataset(Dataset):
                def __init__(self, df, transform=None):
                    self.df, self.transform = df, transform
                def __len__(self):
                    return len(self.df)
                def __getitem__(self, i):
                    row = self.df.iloc[i].to_numpy()
                    image = row[1:].reshape(28, 28).astype(np.float32)
                    if self.transform is not None:
                        image = self.transform(image)
                    else:
                        image = Image.fromarray(image.astype(np.uint8), mode="L")
                    return image, int(row[0])
            """, "not scaled to [0, 1]", "value"),
        Variant("rows looked up by index label (.loc)", """
            class FMDataset(Dataset):
                def __init__(self, df, transform=None):
                    self.df, self.transform = df, transform
                def __len__(self):
                    return len(self.df)
                def __getitem__(self, i):
                    row = self.df.loc[i].to_numpy()
                    image = Image.fromarray(row[1:].astype(np.uint8).reshape(28, 28), mode="L")
                    if self.transform is not None:
                        image = self.transform(image)
                    return image, int(row[0])
            """, "look rows up by position", "value"),
        Variant("transform ignored", """
            class FMDataset(Dataset):
                def __init__(self, df, transform=None):
                    self.df, self.transform = df, transform
                def __len__(self):
                    return len(self.df)
                def __getitem__(self, i):
                    row = self.df.iloc[i].to_numpy()
                    return Image.fromarray(row[1:].astype(np.uint8).reshape(28, 28), mode="L"), int(row[0])
            """, "apply self.transform", "contract"),
        Variant("float label", """
            class FMDataset(Dataset):
                def __init__(self, df, transform=None):
                    self.values = df.to_numpy().astype(np.float32)
                    self.transform = transform
                def __len__(self):
                    return len(self.values)
                def __getitem__(self, i):
                    image = Image.fromarray(self.values[i, 1:].astype(np.uint8).reshape(28, 28), mode="L")
                    if self.transform is not None:
                        image = self.transform(image)
                    return image, self.values[i, 0]
            """, "return the class index as an int", "contract"),
        Variant("returns a tensor without a transform", """
            class FMDataset(Dataset):
                def __init__(self, df, transform=None):
                    self.df, self.transform = df, transform
                def __len__(self):
                    return len(self.df)
                def __getitem__(self, i):
                    row = self.df.iloc[i].to_numpy()
                    pixels = torch.tensor(row[1:], dtype=torch.uint8).reshape(1, 28, 28)
                    if self.transform is None:
                        return pixels, int(row[0])
                    return self.transform(Image.fromarray(pixels[0].numpy(), mode="L")), int(row[0])
            """, "a PIL image in mode 'L'", "contract"),
        Variant("pops the label column off the frame given", """
            class FMDataset(Dataset):
                def __init__(self, df, transform=None):
                    self.labels = df.pop("label").to_numpy()
                    self.images = df.to_numpy().astype(np.uint8).reshape(-1, 28, 28)
                    self.transform = transform
                def __len__(self):
                    return len(self.labels)
                def __getitem__(self, i):
                    image = Image.fromarray(self.images[i], mode="L")
                    if self.transform is not None:
                        image = self.transform(image)
                    return image, int(self.labels[i])
            """, "do not modify df", "contract"),
    ],
    "build_cnn": [
        Variant("an MLP, not a CNN", """
            def build_cnn():
                return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
            """, "needs at least one nn.Conv2d layer", "rule"),
        Variant("softmax at the end", """
            def build_cnn():
                return nn.Sequential(
                    nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
                    nn.Softmax(dim=1))
            """, "ends with a softmax", "value"),
        Variant("no pooling: far too many parameters", """
            def build_cnn():
                return nn.Sequential(
                    nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
                    nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                    nn.Flatten(), nn.Linear(32 * 28 * 28, 128), nn.ReLU(), nn.Linear(128, 10))
            """, "too many parameters", "rule"),
        Variant("Linear sized for unpadded convolutions", """
            def build_cnn():
                return nn.Sequential(
                    nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Flatten(), nn.Linear(32 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10))
            """, "input size must match the flattened feature maps", "value"),
        Variant("one output per image", """
            def build_cnn():
                return nn.Sequential(
                    nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 1))
            """, "10 logits per image", "value"),
        Variant("a ReLU after the last layer kills learning", """
            def build_cnn():
                return nn.Sequential(
                    nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10), nn.ReLU())
            """, "nothing after the last Linear layer", "value"),
        Variant("one model built once, returned every time", """
            MODEL = nn.Sequential(
                nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))

            def build_cnn():
                return MODEL
            """, "build and return a new nn.Module at every call", "contract"),
        Variant("layers kept in a plain Python list", """
            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.features = [nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                     nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
                    self.head = nn.Sequential(nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(),
                                              nn.Linear(128, 10))
                def forward(self, x):
                    for layer in self.features:
                        x = layer(x)
                    return self.head(x)

            def build_cnn():
                return Net()
            """, "a plain Python list is invisible", "device"),
    ],
    "train_one_epoch": [
        Variant("no zero_grad", """
            def train_one_epoch(model, loader, loss_fn, optimizer, device):
                model.train()
                total, count = 0.0, 0
                for xb, yb in loader:
                    xb, yb = xb.to(device), yb.to(device)
                    loss = loss_fn(model(xb), yb)
                    loss.backward()
                    optimizer.step()
                    total += loss.item() * len(xb)
                    count += len(xb)
                return total / count
            """, "call optimizer.zero_grad()", "value"),
        Variant("model left in eval mode", """
            def train_one_epoch(model, loader, loss_fn, optimizer, device):
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
            """, "call model.train()", "contract"),
        Variant("mean of the batch losses", """
            def train_one_epoch(model, loader, loss_fn, optimizer, device):
                model.train()
                losses = []
                for xb, yb in loader:
                    xb, yb = xb.to(device), yb.to(device)
                    loss = loss_fn(model(xb), yb)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    losses.append(loss.item())
                return sum(losses) / len(losses)
            """, "mean of the per-batch losses", "value"),
        Variant("total instead of mean", """
            def train_one_epoch(model, loader, loss_fn, optimizer, device):
                model.train()
                total = 0.0
                for xb, yb in loader:
                    xb, yb = xb.to(device), yb.to(device)
                    loss = loss_fn(model(xb), yb)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    total += loss.item() * len(xb)
                return total
            """, "divide by the number of examples", "value"),
        Variant("returns the last batch's loss tensor", """
            def train_one_epoch(model, loader, loss_fn, optimizer, device):
                model.train()
                for xb, yb in loader:
                    xb, yb = xb.to(device), yb.to(device)
                    loss = loss_fn(model(xb), yb)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                return loss
            """, "return a plain number", "contract"),
        Variant("zero_grad after backward: no step ever moves", """
            def train_one_epoch(model, loader, loss_fn, optimizer, device):
                model.train()
                total, count = 0.0, 0
                for xb, yb in loader:
                    xb, yb = xb.to(device), yb.to(device)
                    loss = loss_fn(model(xb), yb)
                    loss.backward()
                    optimizer.zero_grad()
                    optimizer.step()
                    total += loss.item() * len(xb)
                    count += len(xb)
                return total / count
            """, "the parameters did not change", "value"),
        Variant("images never moved to the device", """
            def train_one_epoch(model, loader, loss_fn, optimizer, device):
                model.train()
                total, count = 0.0, 0
                for xb, yb in loader:
                    loss = loss_fn(model(xb), yb.to(device))
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    total += loss.item() * len(xb)
                    count += len(xb)
                return total / count
            """, "the images were not moved to `device`", "device"),
        Variant("a second forward pass for the bookkeeping", """
            def train_one_epoch(model, loader, loss_fn, optimizer, device):
                model.train()
                total, count = 0.0, 0
                for xb, yb in loader:
                    xb, yb = xb.to(device), yb.to(device)
                    loss = loss_fn(model(xb), yb)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    with torch.no_grad():
                        total += loss_fn(model(xb), yb).item() * len(xb)
                    count += len(xb)
                return total / count
            """, "more than one forward pass per batch", "contract"),
    ],
    "evaluate": [
        Variant("model left in training mode", """
            def evaluate(model, loader, loss_fn, device):
                total, correct, count = 0.0, 0, 0
                with torch.no_grad():
                    for xb, yb in loader:
                        xb, yb = xb.to(device), yb.to(device)
                        out = model(xb)
                        total += loss_fn(out, yb).item() * len(xb)
                        correct += (out.argmax(1) == yb).sum().item()
                        count += len(xb)
                return total / count, correct / count
            """, "call model.eval()", "contract"),
        Variant("no torch.no_grad", """
            def evaluate(model, loader, loss_fn, device):
                model.eval()
                total, correct, count = 0.0, 0, 0
                for xb, yb in loader:
                    xb, yb = xb.to(device), yb.to(device)
                    out = model(xb)
                    total += loss_fn(out, yb).item() * len(xb)
                    correct += (out.argmax(1) == yb).sum().item()
                    count += len(xb)
                return total / count, correct / count
            """, "torch.no_grad()", "contract"),
        Variant("accuracy as a count", """
            def evaluate(model, loader, loss_fn, device):
                model.eval()
                total, correct, count = 0.0, 0, 0
                with torch.no_grad():
                    for xb, yb in loader:
                        xb, yb = xb.to(device), yb.to(device)
                        out = model(xb)
                        total += loss_fn(out, yb).item() * len(xb)
                        correct += (out.argmax(1) == yb).sum().item()
                        count += len(xb)
                return total / count, float(correct)
            """, "number of correct predictions", "value"),
        Variant("accuracy in percent", """
            def evaluate(model, loader, loss_fn, device):
                model.eval()
                total, correct, count = 0.0, 0, 0
                with torch.no_grad():
                    for xb, yb in loader:
                        xb, yb = xb.to(device), yb.to(device)
                        out = model(xb)
                        total += loss_fn(out, yb).item() * len(xb)
                        correct += (out.argmax(1) == yb).sum().item()
                        count += len(xb)
                return total / count, 100.0 * correct / count
            """, "this is a percentage", "value"),
        Variant("mean of the batch losses", """
            def evaluate(model, loader, loss_fn, device):
                model.eval()
                losses, correct, count = [], 0, 0
                with torch.no_grad():
                    for xb, yb in loader:
                        xb, yb = xb.to(device), yb.to(device)
                        out = model(xb)
                        losses.append(loss_fn(out, yb).item())
                        correct += (out.argmax(1) == yb).sum().item()
                        count += len(xb)
                return sum(losses) / len(losses), correct / count
            """, "mean of the per-batch losses", "value"),
        Variant("labels never moved to the device", """
            def evaluate(model, loader, loss_fn, device):
                model.eval()
                total, correct, count = 0.0, 0, 0
                with torch.no_grad():
                    for xb, yb in loader:
                        out = model(xb.to(device))
                        total += loss_fn(out, yb).item() * len(xb)
                        correct += (out.argmax(1).cpu() == yb).sum().item()
                        count += len(xb)
                return total / count, correct / count
            """, "the labels were not moved to `device`", "device"),
        Variant("backward to look at the gradients", """
            def evaluate(model, loader, loss_fn, device):
                model.eval()
                total, correct, count = 0.0, 0, 0
                for xb, yb in loader:
                    xb, yb = xb.to(device), yb.to(device)
                    out = model(xb)
                    loss = loss_fn(out, yb)
                    loss.backward()
                    total += loss.item() * len(xb)
                    correct += (out.argmax(1) == yb).sum().item()
                    count += len(xb)
                return total / count, correct / count
            """, "autograd graph", "contract"),
    ],
    "precision_recall_f1": [
        Variant("precision and recall swapped", """
            def precision_recall_f1(y_true, y_pred, n_classes):
                cm = confusion_matrix(y_true, y_pred, n_classes).float()
                tp = cm.diag()
                recall = torch.nan_to_num(tp / cm.sum(0))
                precision = torch.nan_to_num(tp / cm.sum(1))
                f1 = torch.nan_to_num(2 * precision * recall / (precision + recall))
                return precision, recall, f1
            """, "precision and recall are swapped", "value"),
        Variant("nan where nothing was predicted", """
            def precision_recall_f1(y_true, y_pred, n_classes):
                classes = torch.arange(n_classes, device=y_true.device)
                t = (y_true[:, None] == classes).float()
                p = (y_pred[:, None] == classes).float()
                tp = (t * p).sum(0)
                precision = tp / p.sum(0)
                recall = tp / t.sum(0)
                f1 = 2 * precision * recall / (precision + recall)
                return precision, recall, f1
            """, "division by zero", "value"),
        Variant("F1 as the arithmetic mean", """
            def precision_recall_f1(y_true, y_pred, n_classes):
                classes = torch.arange(n_classes, device=y_true.device)
                t = (y_true[:, None] == classes).float()
                p = (y_pred[:, None] == classes).float()
                tp = (t * p).sum(0)
                precision = torch.where(p.sum(0) > 0, tp / p.sum(0), 0.0)
                recall = torch.where(t.sum(0) > 0, tp / t.sum(0), 0.0)
                return precision, recall, (precision + recall) / 2
            """, "harmonic mean", "value"),
        Variant("numpy results", """
            def precision_recall_f1(y_true, y_pred, n_classes):
                from sklearn.metrics import precision_recall_fscore_support
                p, r, f, _ = precision_recall_fscore_support(
                    y_true.cpu().numpy(), y_pred.cpu().numpy(), labels=range(n_classes), zero_division=0)
                return p.astype(np.float32), r.astype(np.float32), f.astype(np.float32)
            """, "compute with torch operations", "value"),
        Variant("class indices created without device=", """
            def precision_recall_f1(y_true, y_pred, n_classes):
                classes = torch.arange(n_classes)
                t = (y_true[:, None] == classes).float()
                p = (y_pred[:, None] == classes).float()
                tp = (t * p).sum(0)
                precision = torch.where(p.sum(0) > 0, tp / p.sum(0).clamp(min=1), 0.0)
                recall = torch.where(t.sum(0) > 0, tp / t.sum(0).clamp(min=1), 0.0)
                f1 = torch.where(precision + recall > 0,
                                 2 * precision * recall / (precision + recall).clamp(min=1e-12), 0.0)
                return precision, recall, f1
            """, "created without device=", "device"),
        Variant("confusion_matrix called with its arguments swapped", """
            def precision_recall_f1(y_true, y_pred, n_classes):
                cm = confusion_matrix(y_pred, y_true, n_classes).float()
                tp = cm.diag()
                predicted, actual = cm.sum(0), cm.sum(1)
                precision = torch.where(predicted > 0, tp / predicted.clamp(min=1), 0.0)
                recall = torch.where(actual > 0, tp / actual.clamp(min=1), 0.0)
                f1 = torch.where(precision + recall > 0,
                                 2 * precision * recall / (precision + recall).clamp(min=1e-12), 0.0)
                return precision, recall, f1
            """, "precision and recall are swapped", "dependency"),
    ],
    "confusion_matrix": [
        Variant("rows and columns swapped", """
            def confusion_matrix(y_true, y_pred, n_classes):
                return torch.bincount(y_pred * n_classes + y_true, minlength=n_classes ** 2).reshape(n_classes, n_classes)
            """, "rows and columns are swapped", "value"),
        Variant("index assignment loses repeated pairs", """
            def confusion_matrix(y_true, y_pred, n_classes):
                cm = torch.zeros(n_classes, n_classes, dtype=torch.int64, device=y_true.device)
                cm[y_true, y_pred] += 1
                return cm
            """, "counted at most once", "value"),
        Variant("float counts", """
            def confusion_matrix(y_true, y_pred, n_classes):
                cm = torch.zeros(n_classes, n_classes, device=y_true.device)
                cm.index_put_((y_true, y_pred), torch.ones(len(y_true), device=y_true.device), accumulate=True)
                return cm
            """, "keep the input's dtype", "value"),
        Variant("a numpy array", """
            def confusion_matrix(y_true, y_pred, n_classes):
                cm = np.zeros((n_classes, n_classes), dtype=np.int64)
                np.add.at(cm, (y_true.cpu().numpy(), y_pred.cpu().numpy()), 1)
                return cm
            """, "compute with torch operations", "value"),
        Variant("matrix created without device=", """
            def confusion_matrix(y_true, y_pred, n_classes):
                cm = torch.zeros(n_classes, n_classes, dtype=torch.int64)
                return cm.index_put_((y_true, y_pred), torch.ones_like(y_true), accumulate=True)
            """, "created without device=", "device"),
    ],
}

ALTERNATIVES = {
    "FMDataset": [
        Variant("row by row with iloc, tensor labels", """
            class FMDataset(Dataset):
                def __init__(self, df, transform=None):
                    self.df = df.reset_index(drop=True)
                    self.transform = transform
                def __len__(self):
                    return self.df.shape[0]
                def __getitem__(self, i):
                    label = torch.tensor(self.df.iloc[i, 0])
                    pixels = self.df.iloc[i, 1:].to_numpy(dtype=np.uint8).reshape(28, 28)
                    image = Image.fromarray(pixels)
                    return (self.transform(image) if self.transform else image), label
            """),
        Variant("numpy labels kept as numpy integers", """
            class FMDataset(Dataset):
                def __init__(self, df, transform=None):
                    values = df.values
                    self.y = values[:, 0]
                    self.x = np.ascontiguousarray(values[:, 1:], dtype=np.uint8).reshape(len(values), 28, 28)
                    self.transform = transform
                def __len__(self):
                    return self.x.shape[0]
                def __getitem__(self, i):
                    img = Image.fromarray(self.x[i], "L")
                    if self.transform:
                        img = self.transform(img)
                    return img, self.y[i]
            """),
    ],
    "build_cnn": [
        Variant("an nn.Module subclass with 32 and 64 channels", """
            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
                    self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
                    self.fc1 = nn.Linear(64 * 7 * 7, 128)
                    self.fc2 = nn.Linear(128, 10)
                def forward(self, x):
                    x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
                    x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
                    return self.fc2(torch.relu(self.fc1(x.flatten(1))))

            def build_cnn():
                return Net()
            """),
        Variant("5x5 convolutions without padding", """
            def build_cnn():
                return nn.Sequential(
                    nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2),      # 24 -> 12
                    nn.Conv2d(20, 40, 5), nn.ReLU(), nn.MaxPool2d(2),     # 8 -> 4
                    nn.Flatten(), nn.Linear(40 * 4 * 4, 100), nn.ReLU(), nn.Linear(100, 10))
            """),
        Variant("blocks in an nn.ModuleList", """
            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.blocks = nn.ModuleList([
                        nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2)),
                        nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2))])
                    self.fc = nn.Sequential(nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))
                def forward(self, x):
                    for block in self.blocks:
                        x = block(x)
                    return self.fc(x)

            def build_cnn():
                return Net()
            """, kind="ModuleList"),
    ],
    "train_one_epoch": [
        Variant("enumerate, model.zero_grad, running tensor sum", """
            def train_one_epoch(model, loader, loss_fn, optimizer, device):
                model.train(True)
                running = torch.zeros((), dtype=torch.float64)
                seen = 0
                for step, (inputs, targets) in enumerate(loader):
                    inputs = inputs.to(device)
                    targets = targets.to(device)
                    model.zero_grad()
                    outputs = model(inputs)
                    loss = loss_fn(outputs, targets)
                    loss.backward()
                    optimizer.step()
                    running += loss.detach().double().cpu() * inputs.shape[0]
                    seen += inputs.shape[0]
                return float(running / seen)
            """),
        Variant("loss_fn with reduction sum for the bookkeeping", """
            def train_one_epoch(model, loader, loss_fn, optimizer, device):
                model.train()
                losses, sizes = [], []
                for xb, yb in loader:
                    xb, yb = xb.to(device), yb.to(device)
                    optimizer.zero_grad(set_to_none=True)
                    loss = loss_fn(model(xb), yb)
                    loss.backward()
                    optimizer.step()
                    losses.append(loss.item())
                    sizes.append(xb.size(0))
                return float(np.average(losses, weights=sizes))
            """),
        Variant("torch.device, non_blocking, dataset size", """
            def train_one_epoch(model, loader, loss_fn, optimizer, device):
                device = torch.device(device)
                model.to(device).train()
                total = 0.0
                for xb, yb in loader:
                    xb = xb.to(device, non_blocking=True)
                    yb = yb.to(device, non_blocking=True)
                    optimizer.zero_grad()
                    out = model(xb)
                    loss = loss_fn(out, yb)
                    loss.backward()
                    optimizer.step()
                    total += loss.item() * yb.size(0)
                return total / len(loader.dataset)
            """, kind="another API"),
    ],
    "evaluate": [
        Variant("inference_mode and concatenated outputs", """
            def evaluate(model, loader, loss_fn, device):
                model.eval()
                outs, targets = [], []
                with torch.inference_mode():
                    for xb, yb in loader:
                        outs.append(model(xb.to(device)))
                        targets.append(yb.to(device))
                    out, y = torch.cat(outs), torch.cat(targets)
                    loss = loss_fn(out, y).item()
                    acc = (out.argmax(dim=1) == y).float().mean().item()
                return loss, acc
            """),
        Variant("weighted per batch", """
            def evaluate(model, loader, loss_fn, device):
                model.train(False)
                n = len(loader.dataset)
                loss_sum, hits = 0.0, 0
                for xb, yb in loader:
                    with torch.no_grad():
                        logits = model(xb.to(device))
                        yb = yb.to(device)
                        loss_sum += float(loss_fn(logits, yb)) * yb.numel()
                        hits += int(torch.sum(torch.argmax(logits, 1) == yb))
                return loss_sum / n, hits / n
            """),
        Variant("restores the model's previous mode", """
            def evaluate(model, loader, loss_fn, device):
                was_training = model.training
                model.eval()
                total, correct, count = 0.0, 0, 0
                with torch.no_grad():
                    for xb, yb in loader:
                        xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
                        out = model(xb)
                        total += loss_fn(out, yb).item() * len(xb)
                        correct += (out.argmax(dim=1) == yb).sum().item()
                        count += len(xb)
                model.train(was_training)
                return total / count, correct / count
            """, kind="restores the mode"),
    ],
    "precision_recall_f1": [
        Variant("from a confusion matrix (any implementation)", """
            def precision_recall_f1(y_true, y_pred, n_classes):
                cm = confusion_matrix(y_true, y_pred, n_classes).float()
                tp = cm.diag()
                predicted, actual = cm.sum(0), cm.sum(1)
                precision = torch.where(predicted > 0, tp / predicted, torch.zeros_like(tp))
                recall = torch.where(actual > 0, tp / actual, torch.zeros_like(tp))
                f1 = torch.where(precision + recall > 0, 2 * precision * recall / (precision + recall),
                                 torch.zeros_like(tp))
                return precision, recall, f1
            """),
        Variant("loop over classes", """
            def precision_recall_f1(y_true, y_pred, n_classes):
                out = torch.zeros(3, n_classes, device=y_true.device)
                for c in range(n_classes):
                    tp = ((y_true == c) & (y_pred == c)).sum().item()
                    fp = ((y_true != c) & (y_pred == c)).sum().item()
                    fn = ((y_true == c) & (y_pred != c)).sum().item()
                    p = tp / (tp + fp) if tp + fp else 0.0
                    r = tp / (tp + fn) if tp + fn else 0.0
                    out[0, c], out[1, c] = p, r
                    out[2, c] = 2 * p * r / (p + r) if p + r else 0.0
                return out[0], out[1], out[2]
            """),
    ],
    "confusion_matrix": [
        Variant("index_put_ with accumulate", """
            def confusion_matrix(y_true, y_pred, n_classes):
                cm = torch.zeros(n_classes, n_classes, dtype=torch.long, device=y_true.device)
                return cm.index_put_((y_true, y_pred), torch.ones_like(y_true), accumulate=True)
            """),
        Variant("one-hot matrix product", """
            def confusion_matrix(y_true, y_pred, n_classes):
                t = nn.functional.one_hot(y_true, n_classes).double()
                p = nn.functional.one_hot(y_pred, n_classes).double()
                return (t.T @ p).round().long()
            """),
        Variant("a Python loop", """
            def confusion_matrix(y_true, y_pred, n_classes):
                cm = torch.zeros((n_classes, n_classes), dtype=torch.int64, device=y_true.device)
                for t, p in zip(y_true.tolist(), y_pred.tolist()):
                    cm[t, p] += 1
                return cm
            """),
    ],
}
