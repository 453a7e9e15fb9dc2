"""Chapter 09: plausible wrong answers (each must lose its exercise's points, with the
message a learner would need) and correct answers written differently (each keeps them)."""

from mutation import Variant

MUTANTS = {
    "log_softmax": [
        Variant("naive, overflows", """
            def log_softmax(x):
                return x - x.exp().sum(dim=-1, keepdim=True).log()
            """, "nan or inf"),
        Variant("over dim 0", """
            def log_softmax(x):
                m = x.max(dim=0, keepdim=True).values
                return x - m - (x - m).exp().sum(dim=0, keepdim=True).log()
            """, "normalised over dim 0"),
        Variant("max not added back", """
            def log_softmax(x):
                m = x.max(dim=-1, keepdim=True).values
                return x - (x - m).exp().sum(dim=-1, keepdim=True).log()
            """, "did not add it back"),
        Variant("normaliser detached", """
            def log_softmax(x):
                m = x.max(dim=-1, keepdim=True).values
                return x - (m + (x - m).exp().sum(dim=-1, keepdim=True).log()).detach()
            """, "do not .detach() the normaliser"),
        Variant("uses F.log_softmax", """
            def log_softmax(x):
                return F.log_softmax(x, dim=-1)
            """, "calls log_softmax()"),
        Variant("no keepdim", """
            def log_softmax(x):
                m = x.max(dim=-1).values
                return x - m - (x - m).exp().sum(dim=-1).log()
            """, "must match the size"),
    ],
    "nll": [
        Variant("sum instead of mean", """
            def nll(log_probs, target):
                return -log_probs[range(len(target)), target].sum()
            """, "a sum where a mean belongs"),
        Variant("missing minus sign", """
            def nll(log_probs, target):
                return log_probs[range(len(target)), target].mean()
            """, "the sign is flipped"),
        Variant("picks columns", """
            def nll(log_probs, target):
                return -log_probs[:, target].mean()
            """, "picks whole columns"),
        Variant("returns a Python float", """
            def nll(log_probs, target):
                return -log_probs[range(len(target)), target].mean().item()
            """, "no .item()"),
        Variant("no mean, one loss per example", """
            def nll(log_probs, target):
                return -log_probs[range(len(target)), target]
            """, "average the picked log-probabilities"),
    ],
    "accuracy": [
        Variant("count instead of fraction", """
            def accuracy(out, yb):
                return (out.argmax(dim=1) == yb).float().sum()
            """, "a sum where a mean belongs"),
        Variant("error rate", """
            def accuracy(out, yb):
                return (out.argmax(dim=1) != yb).float().mean()
            """, "error rate"),
        Variant("a tie counts as correct", """
            def accuracy(out, yb):
                best = out.max(dim=1, keepdim=True).values
                return (out.gather(1, yb[:, None]) == best).float().mean()
            """, "ties for the"),
        Variant("returns a Python float", """
            def accuracy(out, yb):
                return (out.argmax(dim=1) == yb).float().mean().item()
            """, "no .item()"),
        Variant("integer result", """
            def accuracy(out, yb):
                return (out.argmax(dim=1) == yb).sum() // len(yb)
            """, "keep the input's dtype"),
    ],
    "loss_batch": [
        Variant("no zero_grad", """
            def loss_batch(model, loss_func, xb, yb, opt=None):
                loss = loss_func(model(xb), yb)
                if opt is not None:
                    loss.backward()
                    opt.step()
                return loss.item(), len(xb)
            """, "call opt.zero_grad() in every step"),
        Variant("zero_grad between backward and step", """
            def loss_batch(model, loss_func, xb, yb, opt=None):
                loss = loss_func(model(xb), yb)
                if opt is not None:
                    loss.backward()
                    opt.zero_grad()
                    opt.step()
                return loss.item(), len(xb)
            """, "the parameters did not change"),
        Variant("returns the loss tensor", """
            def loss_batch(model, loss_func, xb, yb, opt=None):
                loss = loss_func(model(xb), yb)
                if opt is not None:
                    loss.backward()
                    opt.step()
                    opt.zero_grad()
                return loss, len(xb)
            """, "return a plain number"),
        Variant("batch size from the wrong dim", """
            def loss_batch(model, loss_func, xb, yb, opt=None):
                loss = loss_func(model(xb), yb)
                if opt is not None:
                    loss.backward()
                    opt.step()
                    opt.zero_grad()
                return loss.item(), xb.shape[1]
            """, "the batch size is len(xb)"),
        Variant("returns only the loss", """
            def loss_batch(model, loss_func, xb, yb, opt=None):
                loss = loss_func(model(xb), yb)
                if opt is not None:
                    loss.backward()
                    opt.step()
                    opt.zero_grad()
                return loss.item()
            """, "must return a pair"),
    ],
    "fit": [
        Variant("mean of batch means", """
            def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
                val_losses = []
                for epoch in range(epochs):
                    model.train()
                    for xb, yb in train_dl:
                        loss_batch(model, loss_func, xb, yb, opt)
                    model.eval()
                    with torch.no_grad():
                        losses = [loss_batch(model, loss_func, xb, yb)[0] for xb, yb in valid_dl]
                    val_losses.append(sum(losses) / len(losses))
                return val_losses
            """, "mean of the batch means"),
        Variant("validation without no_grad", """
            def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
                val_losses = []
                for epoch in range(epochs):
                    model.train()
                    for xb, yb in train_dl:
                        loss_batch(model, loss_func, xb, yb, opt)
                    model.eval()
                    losses, nums = zip(*[loss_batch(model, loss_func, xb, yb) for xb, yb in valid_dl])
                    val_losses.append(float(np.sum(np.multiply(losses, nums)) / np.sum(nums)))
                return val_losses
            """, "torch.no_grad()"),
        Variant("validates before training", """
            def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
                val_losses = []
                for epoch in range(epochs):
                    model.eval()
                    with torch.no_grad():
                        losses, nums = zip(*[loss_batch(model, loss_func, xb, yb) for xb, yb in valid_dl])
                    val_losses.append(float(np.sum(np.multiply(losses, nums)) / np.sum(nums)))
                    model.train()
                    for xb, yb in train_dl:
                        loss_batch(model, loss_func, xb, yb, opt)
                return val_losses
            """, "measured before its training"),
        Variant("forgets model.eval()", """
            def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
                val_losses = []
                model.train()
                for epoch in range(epochs):
                    for xb, yb in train_dl:
                        loss_batch(model, loss_func, xb, yb, opt)
                    with torch.no_grad():
                        losses, nums = zip(*[loss_batch(model, loss_func, xb, yb) for xb, yb in valid_dl])
                    val_losses.append(float(np.sum(np.multiply(losses, nums)) / np.sum(nums)))
                return val_losses
            """, "call model.eval()"),
        Variant("one epoch too few", """
            def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
                val_losses = []
                for epoch in range(1, epochs):
                    model.train()
                    for xb, yb in train_dl:
                        loss_batch(model, loss_func, xb, yb, opt)
                    model.eval()
                    with torch.no_grad():
                        losses, nums = zip(*[loss_batch(model, loss_func, xb, yb) for xb, yb in valid_dl])
                    val_losses.append(float(np.sum(np.multiply(losses, nums)) / np.sum(nums)))
                return val_losses
            """, "one step too few"),
        Variant("validates on the training data", """
            def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
                val_losses = []
                for epoch in range(epochs):
                    model.train()
                    for xb, yb in train_dl:
                        loss_batch(model, loss_func, xb, yb, opt)
                    model.eval()
                    with torch.no_grad():
                        losses, nums = zip(*[loss_batch(model, loss_func, xb, yb) for xb, yb in train_dl])
                    val_losses.append(float(np.sum(np.multiply(losses, nums)) / np.sum(nums)))
                return val_losses
            """, "`val_losses` is wrong"),
    ],
    "get_data": [
        Variant("training loader not shuffled", """
            def get_data(train_ds, valid_ds, bs):
                return DataLoader(train_ds, batch_size=bs), DataLoader(valid_ds, batch_size=bs * 2)
            """, "pass shuffle=True"),
        Variant("validation loader shuffled", """
            def get_data(train_ds, valid_ds, bs):
                return (DataLoader(train_ds, batch_size=bs, shuffle=True),
                        DataLoader(valid_ds, batch_size=bs * 2, shuffle=True))
            """, "the validation loader shuffles"),
        Variant("same batch size for both", """
            def get_data(train_ds, valid_ds, bs):
                return (DataLoader(train_ds, batch_size=bs, shuffle=True),
                        DataLoader(valid_ds, batch_size=bs))
            """, "asks for 2 * bs"),
        Variant("drops the last batch", """
            def get_data(train_ds, valid_ds, bs):
                return (DataLoader(train_ds, batch_size=bs, shuffle=True, drop_last=True),
                        DataLoader(valid_ds, batch_size=bs * 2))
            """, "drop_last"),
        Variant("returns lists of batches", """
            def get_data(train_ds, valid_ds, bs):
                return (list(DataLoader(train_ds, batch_size=bs, shuffle=True)),
                        list(DataLoader(valid_ds, batch_size=bs * 2)))
            """, "pair of DataLoaders"),
    ],
    "Lambda": [
        Variant("returns its input", """
            class Lambda(nn.Module):
                def __init__(self, func):
                    super().__init__()
                    self.func = func

                def forward(self, x):
                    return x
            """, "returned its input unchanged"),
        Variant("not an nn.Module", """
            class Lambda:
                def __init__(self, func):
                    self.func = func

                def __call__(self, x):
                    return self.func(x)
            """, "must create an nn.Module"),
        Variant("a learnable scale", """
            class Lambda(nn.Module):
                def __init__(self, func):
                    super().__init__()
                    self.func = func
                    self.scale = nn.Parameter(torch.ones(1))

                def forward(self, x):
                    return self.func(x) * self.scale
            """, "must have none"),
        Variant("applies the function twice", """
            class Lambda(nn.Module):
                def __init__(self, func):
                    super().__init__()
                    self.func = func

                def forward(self, x):
                    return self.func(self.func(x))
            """, "applied twice"),
        Variant("forgot super().__init__()", """
            class Lambda(nn.Module):
                def __init__(self, func):
                    self.func = func

                def forward(self, x):
                    return self.func(x)
            """, "super().__init__()"),
        Variant("detaches the output", """
            class Lambda(nn.Module):
                def __init__(self, func):
                    super().__init__()
                    self.func = func

                def forward(self, x):
                    return self.func(x).detach()
            """, "`grad_x` is wrong"),
    ],
    "WrappedDataLoader": [
        Variant("ignores func", """
            class WrappedDataLoader:
                def __init__(self, dl, func):
                    self.dl, self.func = dl, func

                def __len__(self):
                    return len(self.dl)

                def __iter__(self):
                    return iter(self.dl)
            """, "`x` is wrong"),
        Variant("length in examples", """
            class WrappedDataLoader:
                def __init__(self, dl, func):
                    self.dl, self.func = dl, func

                def __len__(self):
                    return len(self.dl.dataset)

                def __iter__(self):
                    for xb, yb in self.dl:
                        yield self.func(xb, yb)
            """, "must be the number of batches"),
        Variant("one generator for all passes", """
            class WrappedDataLoader:
                def __init__(self, dl, func):
                    self.dl, self.func = dl, func
                    self.batches = (func(*b) for b in dl)

                def __len__(self):
                    return len(self.dl)

                def __iter__(self):
                    return self.batches
            """, "fresh pass over dl"),
        Variant("func called twice per batch", """
            class WrappedDataLoader:
                def __init__(self, dl, func):
                    self.dl, self.func = dl, func

                def __len__(self):
                    return len(self.dl)

                def __iter__(self):
                    for b in self.dl:
                        self.func(*b)
                        yield self.func(*b)
            """, "func ran twice per batch"),
        Variant("skips the last batch", """
            class WrappedDataLoader:
                def __init__(self, dl, func):
                    self.dl, self.func = dl, func

                def __len__(self):
                    return len(self.dl)

                def __iter__(self):
                    batches = list(self.dl)
                    for b in batches[:len(self.dl.dataset) // self.dl.batch_size]:
                        yield self.func(*b)
            """, "last, smaller batch is missing"),
    ],
}

ALTERNATIVES = {
    "log_softmax": [
        Variant("detached max, torch.amax", """
            def log_softmax(x):
                m = torch.amax(x, dim=-1, keepdim=True).detach()
                return x - (m + torch.log(torch.sum(torch.exp(x - m), dim=-1, keepdim=True)))
            """),
        Variant("log1p around the maximum, row loop-free", """
            def log_softmax(x):
                m, _ = torch.max(x, dim=1, keepdim=True)
                s = x - m
                return s - s.exp().sum(1, keepdim=True).log()
            """),
    ],
    "nll": [
        Variant("gather", """
            def nll(log_probs, target):
                return -log_probs.gather(1, target.unsqueeze(1)).squeeze(1).mean()
            """),
        Variant("one-hot mask", """
            def nll(log_probs, target):
                mask = torch.zeros_like(log_probs)
                mask[torch.arange(len(target)), target] = 1.0
                return -(log_probs * mask).sum() / len(target)
            """),
    ],
    "accuracy": [
        Variant("max(1) indices, mean of float64 then cast", """
            def accuracy(out, yb):
                _, preds = out.max(1)
                return (preds == yb).double().mean().float()
            """),
        Variant("count divided by n", """
            def accuracy(out, yb):
                correct = (torch.argmax(out, dim=1) == yb).sum()
                return correct.float() / yb.numel()
            """),
    ],
    "loss_batch": [
        Variant("zero_grad first, float()", """
            def loss_batch(model, loss_func, xb, yb, opt=None):
                if opt is not None:
                    opt.zero_grad()
                loss = loss_func(model(xb), yb)
                if opt:
                    loss.backward()
                    opt.step()
                return float(loss), xb.shape[0]
            """),
        Variant("model.zero_grad(set_to_none)", """
            def loss_batch(model, loss_func, xb, yb, opt=None):
                out = model(xb)
                loss = loss_func(out, yb)
                if opt is None:
                    return loss.item(), len(yb)
                loss.backward()
                opt.step()
                model.zero_grad(set_to_none=True)
                return loss.detach().item(), len(yb)
            """),
    ],
    "fit": [
        Variant("running sums, no numpy", """
            def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
                history = []
                for _ in range(epochs):
                    model.train()
                    for xb, yb in train_dl:
                        loss_batch(model, loss_func, xb, yb, opt)
                    model.eval()
                    total, count = 0.0, 0
                    with torch.no_grad():
                        for xb, yb in valid_dl:
                            loss, n = loss_batch(model, loss_func, xb, yb)
                            total += loss * n
                            count += n
                    history.append(total / count)
                return history
            """),
        Variant("inline losses, tuple of numpy floats", """
            def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
                out = []
                for epoch in range(epochs):
                    model.train()
                    for xb, yb in train_dl:
                        loss_batch(model, loss_func, xb, yb, opt=opt)
                    model.eval()
                    with torch.no_grad():
                        sums = [loss_func(model(xb), yb, reduction="sum").item() for xb, yb in valid_dl]
                    out.append(np.float64(sum(sums) / len(valid_dl.dataset)))
                return out
            """),
    ],
    "get_data": [
        Variant("keyword arguments, explicit defaults", """
            def get_data(train_ds, valid_ds, bs):
                train_dl = DataLoader(dataset=train_ds, batch_size=bs, shuffle=True, drop_last=False)
                valid_dl = DataLoader(dataset=valid_ds, batch_size=2 * bs, shuffle=False)
                return train_dl, valid_dl
            """),
        Variant("a list, RandomSampler", """
            def get_data(train_ds, valid_ds, bs):
                from torch.utils.data import RandomSampler
                return [DataLoader(train_ds, batch_size=bs, sampler=RandomSampler(train_ds)),
                        DataLoader(valid_ds, bs + bs)]
            """),
    ],
    "Lambda": [
        Variant("func stored under another name, __call__ via forward(*args)", """
            class Lambda(nn.Module):
                def __init__(self, func):
                    super(Lambda, self).__init__()
                    self.fn = func

                def forward(self, *args):
                    return self.fn(*args)
            """),
    ],
    "WrappedDataLoader": [
        Variant("generator expression per pass, unpacked pair", """
            class WrappedDataLoader:
                def __init__(self, dl, func):
                    self.dl = dl
                    self.func = func

                def __len__(self):
                    return len(self.dl)

                def __iter__(self):
                    return (self.func(xb, yb) for xb, yb in self.dl)
            """),
        Variant("iter() and next()", """
            class WrappedDataLoader:
                def __init__(self, dl, func):
                    self.dl, self.func = dl, func

                def __len__(self):
                    return len(self.dl)

                def __iter__(self):
                    batches = iter(self.dl)
                    while True:
                        try:
                            xb, yb = next(batches)
                        except StopIteration:
                            return
                        yield self.func(xb, yb)
            """),
    ],
}
