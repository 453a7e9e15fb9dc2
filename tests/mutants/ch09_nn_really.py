"""Chapter 09: plausible wrong answers (each must lose its exercise's points, with the
message a learner would need) and correct answers written differently (each keeps them)."""

from mutation import Variant

MUTANTS = {
    "log_softmax": [
        Variant("naive, overflows", """
            def log_softmax(x):
                return x - x.exp().sum(dim=-1, keepdim=True).log()
            """, "nan or inf", "value"),
        Variant("over dim 0", """
            def log_softmax(x):
                m = x.max(dim=0, keepdim=True).values
                return x - m - (x - m).exp().sum(dim=0, keepdim=True).log()
            """, "normalised over dim 0", "value"),
        Variant("max not added back", """
            def log_softmax(x):
                m = x.max(dim=-1, keepdim=True).values
                return x - (x - m).exp().sum(dim=-1, keepdim=True).log()
            """, "did not add it back", "value"),
        Variant("normaliser detached", """
            def log_softmax(x):
                m = x.max(dim=-1, keepdim=True).values
                return x - (m + (x - m).exp().sum(dim=-1, keepdim=True).log()).detach()
            """, "do not .detach() the normaliser", "contract"),
        Variant("uses F.log_softmax", """
            def log_softmax(x):
                return F.log_softmax(x, dim=-1)
            """, "are off limits here", "rule"),
        Variant("log of softmax, through a helper", """
            def probabilities(x):
                return torch.nn.functional.softmax(x, dim=-1)

            def log_softmax(x):
                return probabilities(x).log()
            """, "are off limits here", "rule"),
        Variant("no keepdim", """
            def log_softmax(x):
                m = x.max(dim=-1).values
                return x - m - (x - m).exp().sum(dim=-1).log()
            """, "keepdim=True", "value"),
        Variant("whole result detached", """
            def log_softmax(x):
                x = x.detach()
                m = x.max(dim=-1, keepdim=True).values
                return x - m - (x - m).exp().sum(dim=-1, keepdim=True).log()
            """, "without .detach()", "contract"),
    ],
    "nll": [
        Variant("sum instead of mean", """
            def nll(log_probs, target):
                return -log_probs[range(len(target)), target].sum()
            """, "a sum where a mean belongs", "value"),
        Variant("missing minus sign", """
            def nll(log_probs, target):
                return log_probs[range(len(target)), target].mean()
            """, "the sign is flipped", "value"),
        Variant("picks columns", """
            def nll(log_probs, target):
                return -log_probs[:, target].mean()
            """, "picks whole columns", "value"),
        Variant("returns a Python float", """
            def nll(log_probs, target):
                return -log_probs[range(len(target)), target].mean().item()
            """, "no .item()", "contract"),
        Variant("no mean, one loss per example", """
            def nll(log_probs, target):
                return -log_probs[range(len(target)), target]
            """, "average the picked log-probabilities", "value"),
        Variant("uses F.nll_loss", """
            def nll(log_probs, target):
                return F.nll_loss(log_probs, target)
            """, "are off limits here", "rule"),
        Variant("log-probabilities detached", """
            def nll(log_probs, target):
                picked = log_probs.detach()[torch.arange(len(target)), target]
                return -picked.mean()
            """, "without .detach()", "contract"),
    ],
    "accuracy": [
        Variant("count instead of fraction", """
            def accuracy(out, yb):
                return (out.argmax(dim=1) == yb).float().sum()
            """, "a sum where a mean belongs", "value"),
        Variant("error rate", """
            def accuracy(out, yb):
                return (out.argmax(dim=1) != yb).float().mean()
            """, "error rate", "value"),
        Variant("a tie counts as correct", """
            def accuracy(out, yb):
                best = out.max(dim=1, keepdim=True).values
                return (out.gather(1, yb[:, None]) == best).float().mean()
            """, "ties for the", "value"),
        Variant("returns a Python float", """
            def accuracy(out, yb):
                return (out.argmax(dim=1) == yb).float().mean().item()
            """, "no .item()", "contract"),
        Variant("integer result", """
            def accuracy(out, yb):
                return (out.argmax(dim=1) == yb).sum() // len(yb)
            """, "keep the input's dtype", "value"),
        Variant("new tensor without device=", """
            def accuracy(out, yb):
                correct = (out.argmax(dim=1) == yb).sum().item()
                return torch.tensor(correct / len(yb), dtype=torch.float32)
            """, "created without device=", "device"),
    ],
    "loss_batch": [
        Variant("no zero_grad", """
            def loss_batch(model, loss_func, xb, yb, opt=None):
                loss = loss_func(model(xb), yb)
                if opt is not None:
                    loss.backward()
                    opt.step()
                return loss.item(), len(xb)
            """, "call opt.zero_grad() in every step", "contract"),
        Variant("zero_grad between backward and step", """
            def loss_batch(model, loss_func, xb, yb, opt=None):
                loss = loss_func(model(xb), yb)
                if opt is not None:
                    loss.backward()
                    opt.zero_grad()
                    opt.step()
                return loss.item(), len(xb)
            """, "the parameters did not change", "value"),
        Variant("returns the loss tensor", """
            def loss_batch(model, loss_func, xb, yb, opt=None):
                loss = loss_func(model(xb), yb)
                if opt is not None:
                    loss.backward()
                    opt.step()
                    opt.zero_grad()
                return loss, len(xb)
            """, "return a plain number", "contract"),
        Variant("batch size from the wrong dim", """
            def loss_batch(model, loss_func, xb, yb, opt=None):
                loss = loss_func(model(xb), yb)
                if opt is not None:
                    loss.backward()
                    opt.step()
                    opt.zero_grad()
                return loss.item(), xb.shape[1]
            """, "the batch size is len(xb)", "value"),
        Variant("returns only the loss", """
            def loss_batch(model, loss_func, xb, yb, opt=None):
                loss = loss_func(model(xb), yb)
                if opt is not None:
                    loss.backward()
                    opt.step()
                    opt.zero_grad()
                return loss.item()
            """, "(loss.item(), len(xb))", "value"),
        Variant("backward even without an optimizer", """
            def loss_batch(model, loss_func, xb, yb, opt=None):
                loss = loss_func(model(xb), yb)
                loss.backward()
                if opt is not None:
                    opt.step()
                    opt.zero_grad()
                return loss.item(), len(xb)
            """, "must change nothing", "contract"),
        Variant("loss measured after the step", """
            def loss_batch(model, loss_func, xb, yb, opt=None):
                loss = loss_func(model(xb), yb)
                if opt is not None:
                    loss.backward()
                    opt.step()
                    opt.zero_grad()
                    loss = loss_func(model(xb), yb)
                return loss.item(), len(xb)
            """, "the loss after the step", "value"),
        Variant("a new optimizer at every call", """
            def loss_batch(model, loss_func, xb, yb, opt=None):
                loss = loss_func(model(xb), yb)
                if opt is not None:
                    step = type(opt)(model.parameters(), **opt.defaults)
                    loss.backward()
                    step.step()
                    step.zero_grad()
                return loss.item(), len(xb)
            """, "do not create a new optimizer", "contract"),
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
            """, "mean of the batch means", "value"),
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
            """, "`with torch.no_grad():`", "contract"),
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
            """, "measured before its training", "value"),
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
            """, "call model.eval()", "contract"),
        Variant("model.train() only once, before the loop", """
            def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
                val_losses = []
                model.train()
                for epoch in range(epochs):
                    for xb, yb in train_dl:
                        loss_batch(model, loss_func, xb, yb, opt)
                    model.eval()
                    with torch.no_grad():
                        losses, nums = zip(*[loss_batch(model, loss_func, xb, yb) for xb, yb in valid_dl])
                    val_losses.append(float(np.sum(np.multiply(losses, nums)) / np.sum(nums)))
                return val_losses
            """, "training ran in eval mode", "contract"),
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
            """, "no batch of valid_dl went through loss_batch", "value"),
        Variant("optimizer passed during validation", """
            def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
                val_losses = []
                for epoch in range(epochs):
                    model.train()
                    for xb, yb in train_dl:
                        loss_batch(model, loss_func, xb, yb, opt)
                    model.eval()
                    with torch.no_grad():
                        losses, nums = zip(*[loss_batch(model, loss_func, xb, yb, opt) for xb, yb in valid_dl])
                    val_losses.append(float(np.sum(np.multiply(losses, nums)) / np.sum(nums)))
                return val_losses
            """, "the validation batches were given the optimizer", "contract"),
        Variant("loss_batch's pair unpacked the wrong way round", """
            def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
                val_losses = []
                for epoch in range(epochs):
                    model.train()
                    for xb, yb in train_dl:
                        loss_batch(model, loss_func, xb, yb, opt)
                    model.eval()
                    total, count = 0.0, 0
                    with torch.no_grad():
                        for xb, yb in valid_dl:
                            n, loss = loss_batch(model, loss_func, xb, yb)
                            total += loss * n
                            count += n
                    val_losses.append(total / count)
                return val_losses
            """, "(loss, n), in that order", "dependency"),
    ],
    "get_data": [
        Variant("training loader not shuffled", """
            def get_data(train_ds, valid_ds, bs):
                return DataLoader(train_ds, batch_size=bs), DataLoader(valid_ds, batch_size=bs * 2)
            """, "pass shuffle=True", "value"),
        Variant("validation loader shuffled", """
            def get_data(train_ds, valid_ds, bs):
                return (DataLoader(train_ds, batch_size=bs, shuffle=True),
                        DataLoader(valid_ds, batch_size=bs * 2, shuffle=True))
            """, "the validation loader shuffles", "value"),
        Variant("same batch size for both", """
            def get_data(train_ds, valid_ds, bs):
                return (DataLoader(train_ds, batch_size=bs, shuffle=True),
                        DataLoader(valid_ds, batch_size=bs))
            """, "asks for 2 * bs", "value"),
        Variant("drops the last batch", """
            def get_data(train_ds, valid_ds, bs):
                return (DataLoader(train_ds, batch_size=bs, shuffle=True, drop_last=True),
                        DataLoader(valid_ds, batch_size=bs * 2))
            """, "drop_last", "value"),
        Variant("returns lists of batches", """
            def get_data(train_ds, valid_ds, bs):
                return (list(DataLoader(train_ds, batch_size=bs, shuffle=True)),
                        list(DataLoader(valid_ds, batch_size=bs * 2)))
            """, "not lists of batches", "contract"),
        Variant("shuffled once, then the same order every epoch", """
            def get_data(train_ds, valid_ds, bs):
                from torch.utils.data import Subset
                order = torch.randperm(len(train_ds)).tolist()
                return (DataLoader(Subset(train_ds, order), batch_size=bs),
                        DataLoader(valid_ds, batch_size=bs * 2))
            """, "every epoch sees the same order", "value"),
    ],
    "Lambda": [
        Variant("returns its input", """
            class Lambda(nn.Module):
                def __init__(self, func):
                    super().__init__()
                    self.func = func

                def forward(self, x):
                    return x
            """, "returned its input unchanged", "value"),
        Variant("not an nn.Module", """
            class Lambda:
                def __init__(self, func):
                    self.func = func

                def __call__(self, x):
                    return self.func(x)
            """, "must create an nn.Module", "contract"),
        Variant("a learnable scale", """
            class Lambda(nn.Module):
                def __init__(self, func):
                    super().__init__()
                    self.func = func
                    self.scale = nn.Parameter(torch.ones(1))

                def forward(self, x):
                    return self.func(x) * self.scale
            """, "must have none", "contract"),
        Variant("applies the function twice", """
            class Lambda(nn.Module):
                def __init__(self, func):
                    super().__init__()
                    self.func = func

                def forward(self, x):
                    return self.func(self.func(x))
            """, "applied twice", "value"),
        Variant("forgot super().__init__()", """
            class Lambda(nn.Module):
                def __init__(self, func):
                    self.func = func

                def forward(self, x):
                    return self.func(x)
            """, "call super().__init__() first", "contract"),
        Variant("detaches the output", """
            class Lambda(nn.Module):
                def __init__(self, func):
                    super().__init__()
                    self.func = func

                def forward(self, x):
                    return self.func(x).detach()
            """, "no .detach()", "contract"),
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
            """, "func was never called", "value"),
        Variant("length in examples", """
            class WrappedDataLoader:
                def __init__(self, dl, func):
                    self.dl, self.func = dl, func

                def __len__(self):
                    return len(self.dl.dataset)

                def __iter__(self):
                    for xb, yb in self.dl:
                        yield self.func(xb, yb)
            """, "must be the number of batches", "value"),
        Variant("one generator for all passes", """
            class WrappedDataLoader:
                def __init__(self, dl, func):
                    self.dl, self.func = dl, func
                    self.batches = (func(*b) for b in dl)

                def __len__(self):
                    return len(self.dl)

                def __iter__(self):
                    return self.batches
            """, "fresh pass over dl", "contract"),
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
            """, "func ran twice per batch", "value"),
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
            """, "last, smaller batch is missing", "value"),
    ],
}

ALTERNATIVES = {
    "log_softmax": [
        Variant("detached max, torch.amax", """
            def log_softmax(x):
                m = torch.amax(x, dim=-1, keepdim=True).detach()
                return x - (m + torch.log(torch.sum(torch.exp(x - m), dim=-1, keepdim=True)))
            """, kind="another formula"),
        Variant("torch.max over dim 1", """
            def log_softmax(x):
                m, _ = torch.max(x, dim=1, keepdim=True)
                s = x - m
                return s - s.exp().sum(1, keepdim=True).log()
            """, kind="another formula"),
        Variant("float64 inside, cast back", """
            def log_softmax(x):
                d = x.double()
                m = d.max(dim=-1, keepdim=True).values
                out = d - m - (d - m).exp().sum(dim=-1, keepdim=True).log()
                return out.to(x.dtype)
            """, kind="float64 inside"),
        Variant("a helper for the log-sum-exp", """
            def stable_lse(x):
                m = x.max(dim=-1, keepdim=True)[0]
                return m + (x - m).exp().sum(dim=-1, keepdim=True).log()

            def log_softmax(x):
                return x - stable_lse(x)
            """, kind="helper"),
    ],
    "nll": [
        Variant("gather", """
            def nll(log_probs, target):
                return -log_probs.gather(1, target.unsqueeze(1)).squeeze(1).mean()
            """, kind="another formula"),
        Variant("one-hot mask", """
            def nll(log_probs, target):
                mask = torch.zeros_like(log_probs)
                mask[torch.arange(len(target)), target] = 1.0
                return -(log_probs * mask).sum() / len(target)
            """, kind="another formula"),
        Variant("a loop over the rows", """
            def nll(log_probs, target):
                picked = [log_probs[i, t] for i, t in enumerate(target)]
                return -torch.stack(picked).mean()
            """, kind="loop"),
    ],
    "accuracy": [
        Variant("max(1) indices, mean of float64 then cast", """
            def accuracy(out, yb):
                _, preds = out.max(1)
                return (preds == yb).double().mean().float()
            """, kind="float64 inside"),
        Variant("count divided by n", """
            def accuracy(out, yb):
                correct = (torch.argmax(out, dim=1) == yb).sum()
                return correct.float() / yb.numel()
            """, kind="another formula"),
        Variant("eq, sum, div", """
            def accuracy(out, yb):
                return out.argmax(1).eq(yb).sum().div(len(yb)).to(torch.float32)
            """, kind="another formula"),
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
                    opt.zero_grad()
                return float(loss), xb.shape[0]
            """, kind="another order"),
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
            """, kind="another API"),
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
            """, kind="another formula"),
        Variant("a helper for validation, np.average, a tuple", """
            def validation_loss(model, loss_func, dl):
                model.eval()
                with torch.no_grad():
                    pairs = [loss_batch(model, loss_func, xb, yb) for xb, yb in dl]
                return float(np.average([l for l, _ in pairs], weights=[n for _, n in pairs]))

            def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
                out = ()
                for epoch in range(epochs):
                    model.train()
                    for xb, yb in train_dl:
                        loss_batch(model, loss_func, xb, yb, opt=opt)
                    out += (validation_loss(model, loss_func, valid_dl),)
                    print(f"epoch {epoch}: {out[-1]:.4f}")
                return out
            """, kind="helper"),
        Variant("inference_mode, numpy floats", """
            def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
                val_losses = []
                for epoch in range(epochs):
                    model.train()
                    for xb, yb in train_dl:
                        loss_batch(model, loss_func, xb, yb, opt)
                    model.eval()
                    with torch.inference_mode():
                        losses, nums = zip(*[loss_batch(model, loss_func, xb, yb) for xb, yb in valid_dl])
                    val_losses.append(np.sum(np.multiply(losses, nums)) / np.sum(nums))
                return val_losses
            """, kind="another API"),
    ],
    "get_data": [
        Variant("keyword arguments, explicit defaults", """
            def get_data(train_ds, valid_ds, bs):
                train_dl = DataLoader(dataset=train_ds, batch_size=bs, shuffle=True, drop_last=False)
                valid_dl = DataLoader(dataset=valid_ds, batch_size=2 * bs, shuffle=False)
                return train_dl, valid_dl
            """, kind="another API"),
        Variant("a list, RandomSampler", """
            def get_data(train_ds, valid_ds, bs):
                from torch.utils.data import RandomSampler
                return [DataLoader(train_ds, batch_size=bs, sampler=RandomSampler(train_ds)),
                        DataLoader(valid_ds, bs + bs)]
            """, kind="another API"),
    ],
    "Lambda": [
        Variant("func stored under another name, forward(*args)", """
            class Lambda(nn.Module):
                def __init__(self, func):
                    super(Lambda, self).__init__()
                    self.fn = func

                def forward(self, *args):
                    return self.fn(*args)
            """, kind="names"),
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
            """, kind="another formula"),
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
            """, kind="loop"),
    ],
}
