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
            """, "the two coordinates are swapped"),
        Variant("ignores dtype", """
            def make_grid_tensor(h, w, device=None, dtype=torch.float32):
                rows, cols = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device),
                                            indexing="ij")
                return torch.stack([rows, cols], dim=-1).float()
            """, "keep the input's dtype"),
        Variant("ignores device", """
            def make_grid_tensor(h, w, device=None, dtype=torch.float32):
                rows = torch.arange(h, dtype=dtype)
                cols = torch.arange(w, dtype=dtype)
                return torch.stack([rows[:, None].expand(h, w), cols[None, :].expand(h, w)], dim=-1)
            """, "inputs were on the meta device"),
        Variant("counts from 1", """
            def make_grid_tensor(h, w, device=None, dtype=torch.float32):
                rows = torch.arange(1, h + 1, device=device, dtype=dtype)
                cols = torch.arange(1, w + 1, device=device, dtype=dtype)
                return torch.stack([rows[:, None].expand(h, w), cols[None, :].expand(h, w)], dim=-1)
            """, "the coordinates start at 1"),
        Variant("width and height swapped", """
            def make_grid_tensor(h, w, device=None, dtype=torch.float32):
                rows, cols = torch.meshgrid(torch.arange(w, device=device), torch.arange(h, device=device),
                                            indexing="ij")
                return torch.stack([rows, cols], dim=-1).to(dtype)
            """, "same number of elements in another shape"),
    ],
    "normalize_rows": [
        Variant("reduces the wrong dim", """
            def normalize_rows(x):
                return x / x.norm(dim=0, keepdim=True).clamp(min=1e-12)
            """, "each column has norm 1"),
        Variant("no keepdim", """
            def normalize_rows(x):
                return x / x.norm(dim=1).clamp(min=1e-12)
            """, "keep the reduced dim (keepdim=True)"),
        Variant("zero rows become nan", """
            def normalize_rows(x):
                return x / x.norm(dim=1, keepdim=True)
            """, "nan"),
        Variant("in place on the input", """
            def normalize_rows(x):
                x /= x.norm(dim=1, keepdim=True).clamp(min=1e-12)
                return x
            """, "changed its input x in place"),
        Variant("squared norm", """
            def normalize_rows(x):
                return x / (x ** 2).sum(dim=1, keepdim=True).clamp(min=1e-12)
            """, "squared norm"),
        Variant("standardises instead", """
            def normalize_rows(x):
                return (x - x.mean(dim=1, keepdim=True)) / x.std(dim=1, keepdim=True)
            """, "standardised the rows"),
        Variant("float32 inside", """
            def normalize_rows(x):
                x = x.float()
                return x / x.norm(dim=1, keepdim=True).clamp(min=1e-12)
            """, "keep the input's dtype"),
        Variant("numpy round trip", """
            def normalize_rows(x):
                a = x.numpy()
                return torch.from_numpy(a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12))
            """, "meta"),
    ],
    "pairwise_sq_distances": [
        Variant("double Python loop", """
            def pairwise_sq_distances(a, b):
                out = torch.empty(a.shape[0], b.shape[0], dtype=a.dtype, device=a.device)
                for i in range(a.shape[0]):
                    for j in range(b.shape[0]):
                        out[i, j] = ((a[i] - b[j]) ** 2).sum()
                return out
            """, "a Python loop"),
        Variant("loop hidden in map", """
            def pairwise_sq_distances(a, b):
                return torch.stack(list(map(
                    lambda ai: torch.stack(list(map(lambda bj: ((ai - bj) ** 2).sum(), b))), a)))
            """, "too slow for vectorised code"),
        Variant("distances, not squared", """
            def pairwise_sq_distances(a, b):
                return torch.cdist(a, b)
            """, "leave out the sqrt"),
        Variant("transposed", """
            def pairwise_sq_distances(a, b):
                return ((b[:, None, :] - a[None, :, :]) ** 2).sum(-1)
            """, "transpose"),
        Variant("wrong sign of the cross term", """
            def pairwise_sq_distances(a, b):
                return (a * a).sum(1, keepdim=True) + (b * b).sum(1) + 2 * a @ b.T
            """, "the cross term has the wrong sign"),
        Variant("float32 inside, cast back", """
            def pairwise_sq_distances(a, b):
                a32, b32 = a.float(), b.float()
                d2 = (a32 * a32).sum(1, keepdim=True) + (b32 * b32).sum(1) - 2 * a32 @ b32.T
                return d2.clamp(min=0).to(a.dtype)
            """, "float64 precision"),
        Variant("new tensor on the CPU", """
            def pairwise_sq_distances(a, b):
                out = torch.zeros(a.shape[0], b.shape[0], dtype=a.dtype)
                return out + ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
            """, "meta"),
    ],
    "batched_outer": [
        Variant("transposed", """
            def batched_outer(u, v):
                return v[:, :, None] * u[:, None, :]
            """, "another shape"),
        Variant("sums over the batch", """
            def batched_outer(u, v):
                return u.T @ v
            """, "fewer dimensions"),
        Variant("loop over the batch", """
            def batched_outer(u, v):
                return torch.stack([torch.outer(u[b], v[b]) for b in range(u.shape[0])])
            """, "a Python loop"),
        Variant("per-element map", """
            def batched_outer(u, v):
                return torch.stack(list(map(
                    lambda ub, vb: torch.stack(list(map(
                        lambda ui: torch.stack(list(map(lambda vj: ui * vj, vb))), ub))), u, v)))
            """, "too slow for vectorised code"),
        Variant("float32 bmm", """
            def batched_outer(u, v):
                return torch.bmm(u.unsqueeze(2).float(), v.unsqueeze(1).float())
            """, "keep the input's dtype"),
        Variant("outer of everything", """
            def batched_outer(u, v):
                return torch.einsum("bi,cj->bij", u, v)
            """, "each entry sums over the batch"),
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
            """, "gradients by hand"),
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
            """, "grad_w1 ignores the ReLU"),
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
            """, "got:      the number"),
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
            """, "mean of the squared errors"),
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
            """, "already updated w2"),
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
            """, "meta"),
        Variant("forgot the factor 2", """
            def two_layer_step(x, y, w1, w2, lr):
                h = x @ w1
                h_relu = h.clamp(min=0)
                y_pred = h_relu @ w2
                loss = ((y_pred - y) ** 2).sum()
                g = y_pred - y
                grad_w1 = x.T @ ((g @ w2.T) * (h > 0))
                return w1 - lr * grad_w1, w2 - lr * (h_relu.T @ g), loss
            """, "half the expected"),
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
            """, "keep the input's dtype"),
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
        Variant("copy, then in place", """
            def normalize_rows(x):
                y = x.clone()
                y.div_(y.norm(p=2, dim=1, keepdim=True).clamp_(min=1e-12))
                return y
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
    ],
}
