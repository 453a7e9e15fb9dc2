"""Chapter 02: plausible wrong answers (each must lose its exercise's points, with the
message a learner would need) and correct answers written differently (each keeps them)."""

from mutation import Variant

MUTANTS = {
    "make_grid_tensor": [
        Variant("meshgrid with xy indexing", """
            def make_grid_tensor(h, w, device=None, dtype=torch.float32):
                xs, ys = torch.meshgrid(torch.arange(w, device=device), torch.arange(h, device=device),
                                        indexing="xy")
                return torch.stack([xs, ys], dim=-1).to(dtype)
            """, "the two coordinates are swapped", "value"),
        Variant("ignores dtype", """
            def make_grid_tensor(h, w, device=None, dtype=torch.float32):
                rows, cols = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device),
                                            indexing="ij")
                return torch.stack([rows, cols], dim=-1).float()
            """, "keep the input's dtype", "value"),
        Variant("ignores device", """
            def make_grid_tensor(h, w, device=None, dtype=torch.float32):
                rows = torch.arange(h, dtype=dtype)
                cols = torch.arange(w, dtype=dtype)
                return torch.stack([rows[:, None].expand(h, w), cols[None, :].expand(h, w)], dim=-1)
            """, "must live on the input's device", "device"),
        Variant("counts from 1", """
            def make_grid_tensor(h, w, device=None, dtype=torch.float32):
                rows = torch.arange(1, h + 1, device=device, dtype=dtype)
                cols = torch.arange(1, w + 1, device=device, dtype=dtype)
                return torch.stack([rows[:, None].expand(h, w), cols[None, :].expand(h, w)], dim=-1)
            """, "the coordinates start at 1", "value"),
        Variant("width and height swapped", """
            def make_grid_tensor(h, w, device=None, dtype=torch.float32):
                rows, cols = torch.meshgrid(torch.arange(w, device=device), torch.arange(h, device=device),
                                            indexing="ij")
                return torch.stack([rows, cols], dim=-1).to(dtype)
            """, "same number of elements in another shape", "value"),
        Variant("float64 by default", """
            def make_grid_tensor(h, w, device=None, dtype=torch.float64):
                rows = torch.arange(h, device=device, dtype=dtype)
                cols = torch.arange(w, device=device, dtype=dtype)
                return torch.stack([rows[:, None].expand(h, w), cols[None, :].expand(h, w)], dim=-1)
            """, "keep the input's dtype (torch.float32)", "contract"),
    ],
    "one_hot": [
        Variant("classes counted from 1", """
            def one_hot(labels, num_classes):
                classes = torch.arange(1, num_classes + 1, device=labels.device)
                return (labels[:, None] == classes).float()
            """, "the classes are shifted by one", "value"),
        Variant("F.one_hot left as int64", """
            def one_hot(labels, num_classes):
                return torch.nn.functional.one_hot(labels, num_classes)
            """, "keep the input's dtype (torch.float32)", "value"),
        Variant("zeros created on the CPU", """
            def one_hot(labels, num_classes):
                out = torch.zeros(labels.shape[0], num_classes)
                out[torch.arange(labels.shape[0]), labels] = 1.0
                return out
            """, "must live on the input's device", "device"),
        Variant("one column per example (transposed)", """
            def one_hot(labels, num_classes):
                classes = torch.arange(num_classes, device=labels.device)
                return (classes[:, None] == labels[None, :]).float()
            """, "transpose", "value"),
        Variant("unsqueezes the caller's labels in place", """
            def one_hot(labels, num_classes):
                labels.unsqueeze_(1)
                return (labels == torch.arange(num_classes, device=labels.device)).float()
            """, "not to modify what you are given", "contract"),
        Variant("identity matrix on the CPU", """
            def one_hot(labels, num_classes):
                return torch.eye(num_classes)[labels]
            """, "must live on the input's device", "device"),
    ],
    "to_channels_first": [
        Variant("reshape instead of permute", """
            def to_channels_first(images):
                n, h, w, c = images.shape
                return (images.reshape(n, c, h, w).float() / 255).contiguous()
            """, "reshape (or view) only reads the same memory", "value"),
        Variant("not contiguous", """
            def to_channels_first(images):
                return images.permute(0, 3, 1, 2).float() / 255
            """, "call .contiguous()", "rule"),
        Variant("not divided by 255", """
            def to_channels_first(images):
                return images.permute(0, 3, 1, 2).float().contiguous()
            """, "divide by 255", "value"),
        Variant("height and width swapped", """
            def to_channels_first(images):
                return (images.permute(0, 3, 2, 1).float() / 255).contiguous()
            """, "height and width are swapped", "value"),
        Variant("float64", """
            def to_channels_first(images):
                return (images.permute(0, 3, 1, 2).double() / 255).contiguous()
            """, "keep the input's dtype (torch.float32)", "value"),
        Variant("through numpy", """
            def to_channels_first(images):
                a = images.numpy().transpose(0, 3, 1, 2) / 255
                return torch.from_numpy(a).float().contiguous()
            """, "numpy lives on the CPU only", "device"),
    ],
    "batched_outer": [
        Variant("transposed", """
            def batched_outer(u, v):
                return v[:, :, None] * u[:, None, :]
            """, "another shape", "value"),
        Variant("sums over the batch", """
            def batched_outer(u, v):
                return u.T @ v
            """, "fewer dimensions", "value"),
        Variant("loop over the batch", """
            def batched_outer(u, v):
                return torch.stack([torch.outer(u[b], v[b]) for b in range(u.shape[0])])
            """, "build every outer product at once", "rule"),
        Variant("per-element map", """
            def batched_outer(u, v):
                return torch.stack(list(map(
                    lambda ub, vb: torch.stack(list(map(
                        lambda ui: torch.stack(list(map(lambda vj: ui * vj, vb))), ub))), u, v)))
            """, "no Python loops, including map", "rule"),
        Variant("float32 bmm", """
            def batched_outer(u, v):
                return torch.bmm(u.unsqueeze(2).float(), v.unsqueeze(1).float())
            """, "keep the input's dtype", "value"),
        Variant("outer of everything", """
            def batched_outer(u, v):
                return torch.einsum("bi,cj->bij", u, v)
            """, "each entry sums over the batch", "value"),
        Variant("accumulates into zeros made on the CPU", """
            def batched_outer(u, v):
                out = torch.zeros(u.shape[0], u.shape[1], v.shape[1], dtype=u.dtype)
                out += u[:, :, None] * v[:, None, :]
                return out
            """, "must live on the input's device", "device"),
    ],
    "pairwise_sq_distances": [
        Variant("double Python loop", """
            def pairwise_sq_distances(a, b):
                out = torch.empty(a.shape[0], b.shape[0], dtype=a.dtype, device=a.device)
                for i in range(a.shape[0]):
                    for j in range(b.shape[0]):
                        out[i, j] = ((a[i] - b[j]) ** 2).sum()
                return out
            """, "compute all pairs at once", "rule"),
        Variant("loop hidden in map", """
            def pairwise_sq_distances(a, b):
                return torch.stack(list(map(lambda ai: ((ai - b) ** 2).sum(dim=1), a)))
            """, "no Python loops, including map", "rule"),
        Variant("distances, not squared", """
            def pairwise_sq_distances(a, b):
                return torch.cdist(a, b)
            """, "leave out the sqrt", "value"),
        Variant("transposed", """
            def pairwise_sq_distances(a, b):
                return ((b[:, None, :] - a[None, :, :]) ** 2).sum(-1)
            """, "transpose", "value"),
        Variant("wrong sign of the cross term", """
            def pairwise_sq_distances(a, b):
                return (a * a).sum(1, keepdim=True) + (b * b).sum(1) + 2 * a @ b.T
            """, "the cross term has the wrong sign", "value"),
        Variant("float32 inside, cast back", """
            def pairwise_sq_distances(a, b):
                a32, b32 = a.float(), b.float()
                d2 = (a32 * a32).sum(1, keepdim=True) + (b32 * b32).sum(1) - 2 * a32 @ b32.T
                return d2.clamp(min=0).to(a.dtype)
            """, "must be computed in float64 throughout", "value"),
        Variant("new tensor on the CPU", """
            def pairwise_sq_distances(a, b):
                out = torch.zeros(a.shape[0], b.shape[0], dtype=a.dtype)
                return out + ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
            """, "created without device=", "device"),
    ],
    "normalize_rows": [
        Variant("reduces the wrong dim", """
            def normalize_rows(x):
                return x / x.norm(dim=0, keepdim=True).clamp(min=1e-12)
            """, "each column has norm 1", "value"),
        Variant("no keepdim", """
            def normalize_rows(x):
                return x / x.norm(dim=1).clamp(min=1e-12)
            """, "keep the reduced dim (keepdim=True)", "value"),
        Variant("zero rows become nan", """
            def normalize_rows(x):
                return x / x.norm(dim=1, keepdim=True)
            """, "nan", "value"),
        Variant("in place on the input", """
            def normalize_rows(x):
                x /= x.norm(dim=1, keepdim=True).clamp(min=1e-12)
                return x
            """, "the exercise says do not modify x", "contract"),
        Variant("squared norm", """
            def normalize_rows(x):
                return x / (x ** 2).sum(dim=1, keepdim=True).clamp(min=1e-12)
            """, "squared norm", "value"),
        Variant("F.normalize under another name", """
            from torch.nn.functional import normalize as unit_rows

            def normalize_rows(x):
                return unit_rows(x, p=2.0, dim=1)
            """, "write it yourself", "rule"),
        Variant("float32 inside", """
            def normalize_rows(x):
                x = x.float()
                return x / x.norm(dim=1, keepdim=True).clamp(min=1e-12)
            """, "keep the input's dtype", "value"),
        Variant("numpy round trip", """
            def normalize_rows(x):
                a = x.numpy()
                return torch.from_numpy(a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12))
            """, "numpy lives on the CPU only", "device"),
    ],
    "center_columns_": [
        Variant("returns a new tensor, x unchanged", """
            def center_columns_(x):
                return x - x.mean(dim=0, keepdim=True)
            """, "x was left unchanged", "contract"),
        Variant("centres the rows", """
            def center_columns_(x):
                x -= x.mean(dim=1, keepdim=True)
                return x
            """, "each row was centred", "value"),
        Variant("changes x but returns a copy", """
            def center_columns_(x):
                x.sub_(x.mean(dim=0))
                return x.clone()
            """, "return x itself", "contract"),
        Variant("one mean for everything", """
            def center_columns_(x):
                x -= x.mean()
                return x
            """, "the mean of all entries", "value"),
        Variant("standardises the columns", """
            def center_columns_(x):
                x.sub_(x.mean(dim=0)).div_(x.std(dim=0))
                return x
            """, "only subtract the means", "value"),
        Variant("means copied through a list", """
            def center_columns_(x):
                means = torch.tensor(x.mean(dim=0).tolist(), dtype=x.dtype)
                x -= means
                return x
            """, ".tolist()", "device"),
    ],
    "two_layer_step": [
        Variant("autograd instead of the chain rule", """
            def two_layer_step(x, y, w1, w2, lr):
                w1 = w1.detach().clone().requires_grad_()
                w2 = w2.detach().clone().requires_grad_()
                with torch.enable_grad():
                    loss = ((x.mm(w1).clamp(min=0).mm(w2) - y) ** 2).sum()
                    loss.backward()
                with torch.no_grad():
                    return w1 - lr * w1.grad, w2 - lr * w2.grad, loss.detach()
            """, "gradients by hand", "rule"),
        Variant("missing ReLU mask", """
            def two_layer_step(x, y, w1, w2, lr):
                h = x @ w1
                h_relu = h.clamp(min=0)
                y_pred = h_relu @ w2
                loss = ((y_pred - y) ** 2).sum()
                g = 2.0 * (y_pred - y)
                grad_w2 = h_relu.T @ g
                grad_w1 = x.T @ (g @ w2.T)
                return w1 - lr * grad_w1, w2 - lr * grad_w2, loss
            """, "grad_w1 ignores the ReLU", "value"),
        Variant("loss as a Python float", """
            def two_layer_step(x, y, w1, w2, lr):
                h = x @ w1
                h_relu = h.clamp(min=0)
                y_pred = h_relu @ w2
                loss = ((y_pred - y) ** 2).sum().item()
                g = 2.0 * (y_pred - y)
                grad_w2 = h_relu.T @ g
                grad_w1 = x.T @ ((g @ w2.T) * (h > 0))
                return w1 - lr * grad_w1, w2 - lr * grad_w2, loss
            """, "not a Python number", "value"),
        Variant("mean squared error", """
            def two_layer_step(x, y, w1, w2, lr):
                h = x @ w1
                h_relu = h.clamp(min=0)
                y_pred = h_relu @ w2
                loss = ((y_pred - y) ** 2).mean()
                g = 2.0 * (y_pred - y) / y.numel()
                grad_w2 = h_relu.T @ g
                grad_w1 = x.T @ ((g @ w2.T) * (h > 0))
                return w1 - lr * grad_w1, w2 - lr * grad_w2, loss
            """, "mean of the squared errors", "value"),
        Variant("w2 updated before grad_w1", """
            def two_layer_step(x, y, w1, w2, lr):
                h = x @ w1
                h_relu = h.clamp(min=0)
                y_pred = h_relu @ w2
                loss = ((y_pred - y) ** 2).sum()
                g = 2.0 * (y_pred - y)
                w2 = w2 - lr * (h_relu.T @ g)
                w1 = w1 - lr * (x.T @ ((g @ w2.T) * (h > 0)))
                return w1, w2, loss
            """, "already updated w2", "value"),
        Variant("mask built on the CPU", """
            def two_layer_step(x, y, w1, w2, lr):
                h = x @ w1
                h_relu = h.clamp(min=0)
                y_pred = h_relu @ w2
                loss = ((y_pred - y) ** 2).sum()
                g = 2.0 * (y_pred - y)
                mask = torch.zeros(h.shape, dtype=h.dtype)
                mask[h > 0] = 1.0
                grad_w1 = x.T @ ((g @ w2.T) * mask)
                return w1 - lr * grad_w1, w2 - lr * (h_relu.T @ g), loss
            """, "created without device=", "device"),
        Variant("error computed in place on y", """
            def two_layer_step(x, y, w1, w2, lr):
                h = x @ w1
                h_relu = h.clamp(min=0)
                y_pred = h_relu @ w2
                y -= y_pred
                y *= -1
                loss = (y ** 2).sum()
                g = 2.0 * y
                grad_w1 = x.T @ ((g @ w2.T) * (h > 0))
                return w1 - lr * grad_w1, w2 - lr * (h_relu.T @ g), loss
            """, "not to modify what you are given", "contract"),
        Variant("float32 inside", """
            def two_layer_step(x, y, w1, w2, lr):
                x, y, w1, w2 = x.float(), y.float(), w1.float(), w2.float()
                h = x @ w1
                h_relu = h.clamp(min=0)
                y_pred = h_relu @ w2
                loss = ((y_pred - y) ** 2).sum()
                g = 2.0 * (y_pred - y)
                grad_w1 = x.T @ ((g @ w2.T) * (h > 0))
                return w1 - lr * grad_w1, w2 - lr * (h_relu.T @ g), loss
            """, "keep the input's dtype", "value"),
    ],
}

ALTERNATIVES = {
    "make_grid_tensor": [
        Variant("meshgrid ij, cast at the end", """
            def make_grid_tensor(h, w, device=None, dtype=torch.float32):
                rows, cols = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device),
                                            indexing="ij")
                return torch.stack((rows, cols), dim=2).to(dtype)
            """),
        Variant("cartesian_prod and reshape", """
            def make_grid_tensor(h, w, device=None, dtype=torch.float32):
                pairs = torch.cartesian_prod(torch.arange(h, device=device, dtype=dtype),
                                             torch.arange(w, device=device, dtype=dtype))
                return pairs.reshape(h, w, 2)
            """),
        Variant("filled in place through slices", """
            def make_grid_tensor(h, w, device=None, dtype=torch.float32):
                grid = torch.empty(h, w, 2, device=device, dtype=dtype)
                grid[..., 0] = torch.arange(h, device=device, dtype=dtype).unsqueeze(1)
                grid[..., 1] = torch.arange(w, device=device, dtype=dtype)
                return grid
            """),
        Variant("built on the CPU, then moved", """
            def make_grid_tensor(h, w, device=None, dtype=torch.float32):
                grid = torch.zeros(h, w, 2)
                for i in range(h):
                    for j in range(w):
                        grid[i, j, 0], grid[i, j, 1] = i, j
                return grid.to(device=device, dtype=dtype)
            """),
    ],
    "one_hot": [
        Variant("F.one_hot converted", """
            import torch.nn.functional as F

            def one_hot(labels, num_classes):
                return F.one_hot(labels, num_classes).to(torch.float32)
            """),
        Variant("scatter_ into zeros on the device", """
            def one_hot(labels, num_classes):
                out = torch.zeros(labels.shape[0], num_classes, device=labels.device)
                return out.scatter_(1, labels.unsqueeze(1), 1.0)
            """),
        Variant("integer indices write ones", """
            def one_hot(labels, num_classes):
                out = torch.zeros(len(labels), num_classes, device=labels.device)
                out[torch.arange(len(labels), device=labels.device), labels] = 1
                return out
            """),
        Variant("rows of an identity matrix", """
            def one_hot(labels, num_classes):
                return torch.eye(num_classes, device=labels.device)[labels]
            """),
    ],
    "to_channels_first": [
        Variant("movedim, multiply by 1/255", """
            def to_channels_first(images):
                return images.movedim(-1, 1).contiguous().to(torch.float32) * (1 / 255)
            """),
        Variant("two transposes and div", """
            def to_channels_first(images):
                out = images.transpose(1, 3).transpose(2, 3).float().div(255.0)
                return out.contiguous()
            """),
        Variant("einsum, then contiguous", """
            def to_channels_first(images):
                return (torch.einsum("nhwc->nchw", images.to(torch.float32)) / 255).contiguous()
            """),
    ],
    "batched_outer": [
        Variant("einsum", """
            def batched_outer(u, v):
                return torch.einsum("bi,bj->bij", u, v)
            """),
        Variant("bmm of column and row", """
            def batched_outer(u, v):
                return torch.bmm(u.unsqueeze(-1), v.unsqueeze(-2))
            """),
        Variant("matmul with None axes", """
            def batched_outer(u, v):
                return u[:, :, None] @ v[:, None, :]
            """),
    ],
    "pairwise_sq_distances": [
        Variant("expansion with matmul", """
            def pairwise_sq_distances(a, b):
                sq_a = (a * a).sum(dim=1, keepdim=True)        # (n, 1)
                sq_b = (b * b).sum(dim=1).unsqueeze(0)         # (1, m)
                return (sq_a + sq_b - 2.0 * (a @ b.T)).clamp(min=0)
            """),
        Variant("cdist squared", """
            def pairwise_sq_distances(a, b):
                return torch.cdist(a, b).pow(2)
            """),
        Variant("einsum of differences", """
            def pairwise_sq_distances(a, b):
                diff = a.unsqueeze(1) - b.unsqueeze(0)
                return torch.einsum("nmd,nmd->nm", diff, diff)
            """),
    ],
    "normalize_rows": [
        Variant("vector_norm and clamp_min", """
            def normalize_rows(x):
                return x / torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min(1e-12)
            """),
        Variant("sqrt of the sum of squares, maximum", """
            def normalize_rows(x):
                n = (x ** 2).sum(1).sqrt().unsqueeze(1)
                return x / torch.maximum(n, torch.full_like(n, 1e-12))
            """),
        Variant("copy, then in place, a helper named normalize", """
            def normalize(v, eps=1e-12):
                return v.div_(v.norm(p=2, dim=1, keepdim=True).clamp_(min=eps))

            def normalize_rows(x):
                return normalize(x.clone())
            """),
    ],
    "center_columns_": [
        Variant("sub_ with keepdim", """
            def center_columns_(x):
                return x.sub_(x.mean(dim=0, keepdim=True))
            """),
        Variant("sum over rows divided by n", """
            def center_columns_(x):
                x -= x.sum(dim=0) / x.shape[0]
                return x
            """),
        Variant("a loop over the columns", """
            def center_columns_(x):
                for j in range(x.shape[1]):
                    x[:, j] -= x[:, j].mean()
                return x
            """),
    ],
    "two_layer_step": [
        Variant("in-place updates with sub_", """
            def two_layer_step(x, y, w1, w2, lr):
                h = x.mm(w1)
                h_relu = torch.relu(h)
                y_pred = h_relu.mm(w2)
                diff = y_pred - y
                loss = (diff * diff).sum()
                grad_y_pred = 2 * diff
                grad_w2 = h_relu.t().mm(grad_y_pred)
                grad_h = grad_y_pred.mm(w2.t())
                grad_h[h < 0] = 0
                grad_w1 = x.t().mm(grad_h)
                w1.sub_(lr * grad_w1)
                w2.sub_(lr * grad_w2)
                return w1, w2, loss
            """),
        Variant("einsum and torch.where", """
            def two_layer_step(x, y, w1, w2, lr):
                h = torch.einsum("nd,dh->nh", x, w1)
                h_relu = torch.where(h > 0, h, torch.zeros_like(h))
                y_pred = torch.einsum("nh,hk->nk", h_relu, w2)
                err = y_pred - y
                loss = err.pow(2).sum()
                grad_w2 = torch.einsum("nh,nk->hk", h_relu, 2 * err)
                grad_h = torch.einsum("nk,hk->nh", 2 * err, w2) * (h_relu > 0).to(h.dtype)
                grad_w1 = torch.einsum("nd,nh->dh", x, grad_h)
                return w1 - lr * grad_w1, w2 - lr * grad_w2, loss
            """),
        Variant("helpers named forward and backward", """
            def forward(x, w1, w2):
                h = x @ w1
                return h, h.clamp(min=0), h.clamp(min=0) @ w2

            def backward(x, y, h, h_relu, y_pred, w2):
                g = 2 * (y_pred - y)
                return x.T @ ((g @ w2.T) * (h > 0)), h_relu.T @ g

            def two_layer_step(x, y, w1, w2, lr):
                h, h_relu, y_pred = forward(x, w1, w2)
                loss = ((y_pred - y) ** 2).sum()
                grad_w1, grad_w2 = backward(x, y, h, h_relu, y_pred, w2)
                return w1 - lr * grad_w1, w2 - lr * grad_w2, loss
            """),
    ],
}
