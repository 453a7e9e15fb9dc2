"""Chapter 05: plausible wrong answers (each must lose its exercise's points, with the
message a learner would need) and correct answers written differently (each keeps them)."""

from mutation import Variant

MUTANTS = {
    "build_two_layer": [
        Variant("no ReLU", """
            def build_two_layer(d_in, h, d_out):
                return nn.Sequential(nn.Linear(d_in, h), nn.Linear(h, d_out))
            """, "the ReLU between the two Linear layers is missing", kind="value"),
        Variant("in and out features swapped", """
            def build_two_layer(d_in, h, d_out):
                return nn.Sequential(nn.Linear(h, d_in), nn.ReLU(), nn.Linear(d_out, h))
            """, "stores a weight of shape (out, in)", kind="value"),
        Variant("no bias", """
            def build_two_layer(d_in, h, d_out):
                return nn.Sequential(nn.Linear(d_in, h, bias=False), nn.ReLU(), nn.Linear(h, d_out, bias=False))
            """, "has no bias", kind="value"),
        Variant("sigmoid instead of ReLU", """
            def build_two_layer(d_in, h, d_out):
                return nn.Sequential(nn.Linear(d_in, h), nn.Sigmoid(), nn.Linear(h, d_out))
            """, "must be nn.ReLU, not Sigmoid", kind="value"),
        Variant("ReLU after the output layer", """
            def build_two_layer(d_in, h, d_out):
                return nn.Sequential(nn.Linear(d_in, h), nn.ReLU(), nn.Linear(h, d_out), nn.ReLU())
            """, "the output layer stays linear", kind="value"),
        Variant("a ModuleList, not a Sequential", """
            def build_two_layer(d_in, h, d_out):
                return nn.ModuleList([nn.Linear(d_in, h), nn.ReLU(), nn.Linear(h, d_out)])
            """, "it returned a ModuleList, not an nn.Sequential", kind="value"),
        Variant("float64 layers", """
            def build_two_layer(d_in, h, d_out):
                return nn.Sequential(nn.Linear(d_in, h), nn.ReLU(), nn.Linear(h, d_out)).double()
            """, "torch.float64 weights", kind="value"),
    ],
    "manual_sgd_step": [
        Variant("rebinds a local name", """
            def manual_sgd_step(model, lr):
                with torch.no_grad():
                    for p in model.parameters():
                        if p.grad is not None:
                            p = p - lr * p.grad
            """, "the parameters did not change", kind="value"),
        Variant("gradient ascent", """
            def manual_sgd_step(model, lr):
                with torch.no_grad():
                    for p in model.parameters():
                        if p.grad is not None:
                            p += lr * p.grad
            """, "the step goes uphill", kind="value"),
        Variant("learning rate forgotten", """
            def manual_sgd_step(model, lr):
                with torch.no_grad():
                    for p in model.parameters():
                        if p.grad is not None:
                            p -= p.grad
            """, "the learning rate is missing", kind="value"),
        Variant("in-place on a leaf without no_grad", """
            def manual_sgd_step(model, lr):
                for p in model.parameters():
                    if p.grad is not None:
                        p -= lr * p.grad
            """, "wrap the update in `with torch.no_grad():`", kind="rule"),
        Variant("does not skip parameters without a gradient", """
            def manual_sgd_step(model, lr):
                with torch.no_grad():
                    for p in model.parameters():
                        p -= lr * p.grad
            """, "skip those with", kind="rule"),
        Variant("replaces the parameters by new ones", """
            def manual_sgd_step(model, lr):
                for m in model.modules():
                    for name, p in list(m.named_parameters(recurse=False)):
                        if p.grad is not None:
                            setattr(m, name, nn.Parameter(p.detach() - lr * p.grad))
            """, "replaced by new tensors", kind="contract"),
        Variant("switches requires_grad off to update", """
            def manual_sgd_step(model, lr):
                for p in model.parameters():
                    if p.grad is not None:
                        p.requires_grad_(False)
                        p -= lr * p.grad
            """, "their requires_grad changed", kind="contract"),
    ],
    "initialize_weights": [
        Variant("kaiming with mode fan_in", """
            def initialize_weights(model):
                for m in model.modules():
                    if isinstance(m, nn.Conv2d):
                        nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                        nn.init.zeros_(m.bias)
                    elif isinstance(m, nn.Linear):
                        nn.init.normal_(m.weight, std=0.01)
                        nn.init.zeros_(m.bias)
                    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                        nn.init.ones_(m.weight)
                        nn.init.zeros_(m.bias)
            """, "pass mode='fan_out'", kind="value"),
        Variant("normal_(w, 0.01) sets the mean", """
            def initialize_weights(model):
                for m in model.modules():
                    if isinstance(m, nn.Conv2d):
                        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                        nn.init.zeros_(m.bias)
                    elif isinstance(m, nn.Linear):
                        nn.init.normal_(m.weight, 0.01)
                        nn.init.zeros_(m.bias)
                    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                        nn.init.ones_(m.weight)
                        nn.init.zeros_(m.bias)
            """, "sets the MEAN to 0.01", kind="value"),
        Variant("children() misses the nested block", """
            def initialize_weights(model):
                for m in model.children():
                    if isinstance(m, nn.Conv2d):
                        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                        nn.init.zeros_(m.bias)
                    elif isinstance(m, nn.Linear):
                        nn.init.normal_(m.weight, std=0.01)
                        nn.init.zeros_(m.bias)
                    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                        nn.init.ones_(m.weight)
                        nn.init.zeros_(m.bias)
            """, "walk model.modules()", kind="value"),
        Variant("only BatchNorm2d", """
            def initialize_weights(model):
                for m in model.modules():
                    if isinstance(m, nn.Conv2d):
                        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                        nn.init.zeros_(m.bias)
                    elif isinstance(m, nn.Linear):
                        nn.init.normal_(m.weight, std=0.01)
                        nn.init.zeros_(m.bias)
                    elif isinstance(m, nn.BatchNorm2d):
                        nn.init.ones_(m.weight)
                        nn.init.zeros_(m.bias)
            """, "BatchNorm1d layer was not initialised", kind="value"),
        Variant("kaiming uniform", """
            def initialize_weights(model):
                for m in model.modules():
                    if isinstance(m, nn.Conv2d):
                        nn.init.kaiming_uniform_(m.weight, mode="fan_out", nonlinearity="relu")
                        nn.init.zeros_(m.bias)
                    elif isinstance(m, nn.Linear):
                        nn.init.normal_(m.weight, std=0.01)
                        nn.init.zeros_(m.bias)
                    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                        nn.init.ones_(m.weight)
                        nn.init.zeros_(m.bias)
            """, "not a uniform one", kind="value"),
        Variant("biases left alone", """
            def initialize_weights(model):
                for m in model.modules():
                    if isinstance(m, nn.Conv2d):
                        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    elif isinstance(m, nn.Linear):
                        nn.init.normal_(m.weight, std=0.01)
                    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                        nn.init.ones_(m.weight)
                        nn.init.zeros_(m.bias)
            """, "biases kept their old values", kind="value"),
        Variant("new Parameters instead of in place", """
            def initialize_weights(model):
                for m in model.modules():
                    if isinstance(m, nn.Conv2d):
                        fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1]
                        m.weight = nn.Parameter(torch.randn_like(m.weight) * math.sqrt(2 / fan_out))
                        m.bias = nn.Parameter(torch.zeros_like(m.bias))
                    elif isinstance(m, nn.Linear):
                        m.weight = nn.Parameter(torch.randn_like(m.weight) * 0.01)
                        m.bias = nn.Parameter(torch.zeros_like(m.bias))
                    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                        nn.init.ones_(m.weight)
                        nn.init.zeros_(m.bias)
            """, "initialise them in place", kind="contract"),
        Variant("weights drawn without device=", """
            def initialize_weights(model):
                for m in model.modules():
                    if isinstance(m, nn.Conv2d):
                        fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1]
                        m.weight.data = torch.randn(m.weight.shape) * math.sqrt(2 / fan_out)
                        nn.init.zeros_(m.bias)
                    elif isinstance(m, nn.Linear):
                        m.weight.data = torch.randn(m.weight.shape) * 0.01
                        nn.init.zeros_(m.bias)
                    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                        nn.init.ones_(m.weight)
                        nn.init.zeros_(m.bias)
            """, "created without device=", kind="device"),
    ],
    "cross_entropy_from_scratch": [
        Variant("sum over the batch", """
            def cross_entropy_from_scratch(logits, target):
                m = logits.max(dim=1, keepdim=True).values
                lse = m.squeeze(1) + torch.log(torch.exp(logits - m).sum(dim=1))
                return (lse - logits[torch.arange(len(target)), target]).sum()
            """, "summed over the batch", kind="value"),
        Variant("log-sum-exp without the max trick", """
            def cross_entropy_from_scratch(logits, target):
                lse = torch.log(torch.exp(logits).sum(dim=1))
                return (lse - logits[range(len(target)), target]).mean()
            """, "exp overflowed", kind="value"),
        Variant("log of softmax", """
            def cross_entropy_from_scratch(logits, target):
                probs = torch.softmax(logits, dim=1)
                return -torch.log(probs[range(len(target)), target]).mean()
            """, "exp overflowed (or a log of 0)", kind="value"),
        Variant("softmax over the batch", """
            def cross_entropy_from_scratch(logits, target):
                m = logits.max(dim=0, keepdim=True).values
                lse = m + torch.log(torch.exp(logits - m).sum(dim=0, keepdim=True))
                return -(logits - lse)[torch.arange(len(target)), target].mean()
            """, "the softmax ran over the batch (dim 0)", kind="value"),
        Variant("log_softmax through a helper", """
            def log_probs(z):
                return torch.log_softmax(z, dim=1)

            def cross_entropy_from_scratch(logits, target):
                return -log_probs(logits)[range(len(target)), target].mean()
            """, "maybe through a helper", kind="rule"),
        Variant("calls F.cross_entropy", """
            def cross_entropy_from_scratch(logits, target):
                return F.cross_entropy(logits, target)
            """, "write the log-sum-exp yourself", kind="rule"),
        Variant("detached from the graph", """
            def cross_entropy_from_scratch(logits, target):
                x = logits.detach()
                m = x.max(dim=1, keepdim=True).values
                lse = m.squeeze(1) + torch.log(torch.exp(x - m).sum(dim=1))
                return (lse - x[torch.arange(len(target)), target]).mean()
            """, "not connected to `logits`", kind="contract"),
        Variant("one-hot made without device=", """
            def cross_entropy_from_scratch(logits, target):
                m = logits.max(dim=1, keepdim=True).values
                lse = m.squeeze(1) + torch.log(torch.exp(logits - m).sum(dim=1))
                one_hot = torch.zeros(logits.shape).scatter_(1, target.unsqueeze(1), 1.0)
                return (lse - (one_hot * logits).sum(dim=1)).mean()
            """, "created without device=", kind="device"),
    ],
    "bce_with_logits_from_scratch": [
        Variant("log of sigmoid (unstable)", """
            def bce_with_logits_from_scratch(logits, target, pos_weight=None):
                p = 1.0 if pos_weight is None else pos_weight
                s = torch.sigmoid(logits)
                return -(p * target * torch.log(s) + (1 - target) * torch.log(1 - s)).mean()
            """, "a log of 0", kind="value"),
        Variant("pos_weight ignored", """
            def bce_with_logits_from_scratch(logits, target, pos_weight=None):
                sp = lambda z: z.clamp(min=0) + torch.log1p(torch.exp(-z.abs()))
                return (target * sp(-logits) + (1 - target) * sp(logits)).mean()
            """, "pos_weight was ignored", kind="value"),
        Variant("pos_weight on the whole loss", """
            def bce_with_logits_from_scratch(logits, target, pos_weight=None):
                p = 1.0 if pos_weight is None else pos_weight
                sp = lambda z: z.clamp(min=0) + torch.log1p(torch.exp(-z.abs()))
                return (p * (target * sp(-logits) + (1 - target) * sp(logits))).mean()
            """, "pos_weight multiplies the whole loss", kind="value"),
        Variant("pos_weight on the negatives", """
            def bce_with_logits_from_scratch(logits, target, pos_weight=None):
                p = 1.0 if pos_weight is None else pos_weight
                sp = lambda z: z.clamp(min=0) + torch.log1p(torch.exp(-z.abs()))
                return (target * sp(-logits) + p * (1 - target) * sp(logits)).mean()
            """, "pos_weight went to the negative term", kind="value"),
        Variant("softplus through a module-level alias", """
            sp = F.softplus

            def bce_with_logits_from_scratch(logits, target, pos_weight=None):
                p = 1.0 if pos_weight is None else pos_weight
                return (p * target * sp(-logits) + (1 - target) * sp(logits)).mean()
            """, "maybe through a helper or an alias", kind="rule"),
        Variant("clamped probabilities", """
            def bce_with_logits_from_scratch(logits, target, pos_weight=None):
                p = 1.0 if pos_weight is None else pos_weight
                s = torch.sigmoid(logits).clamp(1e-7, 1 - 1e-7)
                return -(p * target * torch.log(s) + (1 - target) * torch.log(1 - s)).mean()
            """, "the loss saturates for large logits", kind="value"),
        Variant("calls the built-in", """
            def bce_with_logits_from_scratch(logits, target, pos_weight=None):
                return F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight)
            """, "write the stable formula yourself", kind="rule"),
        Variant("default pos_weight made without device=", """
            def bce_with_logits_from_scratch(logits, target, pos_weight=None):
                if pos_weight is None:
                    pos_weight = torch.ones(logits.shape[-1], dtype=logits.dtype)
                sp = lambda z: z.clamp(min=0) + torch.log1p(torch.exp(-z.abs()))
                return (pos_weight * target * sp(-logits) + (1 - target) * sp(logits)).mean()
            """, "created without device=", kind="device"),
    ],
    "save_and_reload": [
        Variant("returns the same model", """
            def save_and_reload(model, path):
                torch.save(model.state_dict(), path)
                model.load_state_dict(torch.load(path, map_location="cpu"))
                return model
            """, "the very model it was given", kind="contract"),
        Variant("pickles the whole model", """
            def save_and_reload(model, path):
                torch.save(model, path)
                return torch.load(path, map_location="cpu", weights_only=False)
            """, "save model.state_dict(), not the model object", kind="value"),
        Variant("saves the parameters only", """
            def save_and_reload(model, path):
                torch.save(dict(model.named_parameters()), path)
                new = fresh_model_like(model)
                new.load_state_dict(torch.load(path, map_location="cpu"), strict=False)
                return new
            """, "parameters AND buffers", kind="value"),
        Variant("never loads the saved state", """
            def save_and_reload(model, path):
                torch.save(model.state_dict(), path)
                return fresh_model_like(model)
            """, "was never read back", kind="value"),
        Variant("saves in half precision", """
            def save_and_reload(model, path):
                torch.save({k: v.half() if v.is_floating_point() else v
                            for k, v in model.state_dict().items()}, path)
                new = fresh_model_like(model)
                new.load_state_dict(torch.load(path, map_location="cpu"))
                return new
            """, "the saved tensors differ", kind="value"),
        Variant("model.cpu() before saving", """
            def save_and_reload(model, path):
                torch.save(model.cpu().state_dict(), path)
                new = fresh_model_like(model)
                new.load_state_dict(torch.load(path, map_location="cpu"))
                return new
            """, "move a module in place", kind="device"),
        Variant("torch.load without map_location", """
            def save_and_reload(model, path):
                torch.save(model.state_dict(), path)
                new = fresh_model_like(model)
                new.load_state_dict(torch.load(path))
                return new
            """, "without map_location", kind="device"),
        Variant("switches the given model to eval mode", """
            def save_and_reload(model, path):
                model.eval()
                torch.save(model.state_dict(), path)
                new = fresh_model_like(model)
                new.load_state_dict(torch.load(path, map_location="cpu"))
                return new
            """, "train/eval mode of the model you were given changed", kind="contract"),
    ],
}

ALTERNATIVES = {
    "build_two_layer": [
        Variant("named layers from an OrderedDict", """
            from collections import OrderedDict

            def build_two_layer(d_in, h, d_out):
                return nn.Sequential(OrderedDict([
                    ("hidden", nn.Linear(d_in, h)), ("relu", nn.ReLU()), ("output", nn.Linear(h, d_out))]))
            """),
        Variant("append layer by layer", """
            def build_two_layer(d_in, h, d_out):
                net = nn.Sequential()
                net.append(nn.Linear(d_in, h))
                net.add_module("act", nn.ReLU(inplace=True))
                net.append(nn.Linear(h, d_out))
                return net
            """),
        Variant("its own initialisation", """
            def build_two_layer(d_in, h, d_out):
                net = nn.Sequential(nn.Linear(d_in, h), nn.ReLU(), nn.Linear(h, d_out))
                for layer in (net[0], net[2]):
                    nn.init.xavier_uniform_(layer.weight)
                    nn.init.zeros_(layer.bias)
                return net
            """, kind="initialisation"),
    ],
    "manual_sgd_step": [
        Variant("add_ with alpha", """
            def manual_sgd_step(model, lr):
                with torch.no_grad():
                    for p in model.parameters():
                        if p.grad is None:
                            continue
                        p.add_(p.grad, alpha=-lr)
            """),
        Variant("through .data, over named_parameters", """
            def manual_sgd_step(model, lr):
                for name, p in model.named_parameters():
                    if p.requires_grad and p.grad is not None:
                        p.data.sub_(lr * p.grad.data)
            """),
        Variant("torch.optim.SGD itself", """
            def manual_sgd_step(model, lr):
                torch.optim.SGD(model.parameters(), lr=lr).step()
            """),
    ],
    "initialize_weights": [
        Variant("model.apply and normal_ by hand", """
            def initialize_weights(model):
                def init(m):
                    if type(m) is nn.Conv2d:
                        fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1]
                        with torch.no_grad():
                            m.weight.normal_(0.0, math.sqrt(2.0 / fan_out))
                            if m.bias is not None:
                                m.bias.zero_()
                    elif type(m) is nn.Linear:
                        with torch.no_grad():
                            m.weight.normal_(0.0, 0.01)
                            if m.bias is not None:
                                m.bias.zero_()
                    elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                        nn.init.constant_(m.weight, 1.0)
                        nn.init.constant_(m.bias, 0.0)
                model.apply(init)
            """),
        Variant("kaiming default nonlinearity (leaky_relu, a=0)", """
            def initialize_weights(model):
                for m in model.modules():
                    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                        m.weight.data.fill_(1.0)
                        m.bias.data.zero_()
                    elif isinstance(m, nn.Linear):
                        nn.init.trunc_normal_(m.weight, std=0.01, a=-1.0, b=1.0)
                        if m.bias is not None:
                            m.bias.data.zero_()
                    elif isinstance(m, nn.Conv2d):
                        nn.init.kaiming_normal_(m.weight, mode="fan_out")
                        if m.bias is not None:
                            nn.init.constant_(m.bias, 0)
            """),
    ],
    "cross_entropy_from_scratch": [
        Variant("one-hot mask, max not detached", """
            def cross_entropy_from_scratch(logits, target):
                m = logits.amax(dim=1, keepdim=True)
                shifted = logits - m
                log_probs = shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))
                one_hot = F.one_hot(target, logits.shape[1]).to(logits.dtype)
                return -(one_hot * log_probs).sum() / logits.shape[0]
            """),
        Variant("float64 inside, loop over rows", """
            def cross_entropy_from_scratch(logits, target):
                x = logits.double()
                total = 0.0
                for n in range(x.shape[0]):
                    row = x[n]
                    m = row.max()
                    total = total + m + torch.log(torch.exp(row - m).sum()) - row[target[n]]
                return (total / x.shape[0]).to(logits.dtype)
            """),
    ],
    "bce_with_logits_from_scratch": [
        Variant("PyTorch's own formula", """
            def bce_with_logits_from_scratch(logits, target, pos_weight=None):
                x, y = logits, target
                stable = torch.log1p(torch.exp(-x.abs())) + torch.relu(-x)
                if pos_weight is None:
                    loss = (1 - y) * x + stable
                else:
                    loss = (1 - y) * x + (1 + (pos_weight - 1) * y) * stable
                return loss.mean()
            """),
        Variant("float64 inside, torch.where", """
            def bce_with_logits_from_scratch(logits, target, pos_weight=None):
                x, y = logits.double(), target.double()
                p = torch.ones((), dtype=torch.float64, device=x.device) if pos_weight is None else pos_weight.double()
                tail = torch.log1p(torch.exp(-x.abs()))
                log_sig = torch.where(x >= 0, -tail, x - tail)        # log sigmoid(x)
                log_one_minus = torch.where(x >= 0, -x - tail, -tail)  # log (1 - sigmoid(x))
                return (-(p * y * log_sig + (1 - y) * log_one_minus)).mean().to(logits.dtype)
            """),
    ],
    "save_and_reload": [
        Variant("file object, deepcopy, map_location as a device", """
            def save_and_reload(model, path):
                with open(path, "wb") as f:
                    torch.save(model.state_dict(), f)
                new = copy.deepcopy(model).cpu()
                state = torch.load(path, map_location=torch.device("cpu"), weights_only=True)
                new.load_state_dict(state, strict=True)
                return new
            """),
        Variant("CPU clone of the state before saving", """
            def save_and_reload(model, path):
                state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                torch.save(state, path)
                new = fresh_model_like(model)
                new.load_state_dict(torch.load(path, map_location="cpu"))
                return new.train(model.training)
            """),
        Variant("rebuilt layer by layer, file opened by hand", """
            def save_and_reload(model, path):
                torch.save(model.state_dict(), path)
                new = nn.Sequential(*[copy.deepcopy(layer) for layer in model]).to("cpu")
                with open(path, "rb") as f:
                    new.load_state_dict(torch.load(f, map_location="cpu"))
                return new
            """, kind="another way to rebuild and read"),
    ],
}
