"""Chapter 01: plausible wrong answers (each must lose its exercise's points, with the
message a learner would need) and correct answers written differently (each keeps them)."""

from mutation import Variant

MUTANTS = {
    "forward": [
        Variant("no ReLU", """
            def forward(x, w1, w2):
                h = x @ w1
                h_relu = h
                return h, h_relu, h_relu @ w2
            """, "the ReLU max(h, 0) is missing", "value"),
        Variant("ReLU after the output layer", """
            def forward(x, w1, w2):
                h = x @ w1
                h_relu = np.maximum(h, 0)
                return h, h_relu, np.maximum(h_relu @ w2, 0)
            """, "the output layer is linear", "value"),
        Variant("returns torch tensors", """
            def forward(x, w1, w2):
                import torch
                h = torch.from_numpy(x) @ torch.from_numpy(w1)
                h_relu = h.clamp(min=0)
                return h, h_relu, h_relu @ torch.from_numpy(w2)
            """, "numpy only", "rule"),
        Variant("float32 inside", """
            def forward(x, w1, w2):
                h = x.astype(np.float32) @ w1.astype(np.float32)
                h_relu = np.maximum(h, 0)
                return h, h_relu, h_relu @ w2.astype(np.float32)
            """, "keep the input's dtype", "value"),
        Variant("ReLU overwrites h", """
            def forward(x, w1, w2):
                h = x @ w1
                h_relu = np.maximum(h, 0, out=h)
                return h, h_relu, h_relu @ w2
            """, "overwrote it", "value"),
    ],
    "sse_loss": [
        Variant("mean instead of sum", """
            def sse_loss(y_pred, y):
                return np.mean((y_pred - y) ** 2)
            """, "mean of the squared errors", "value"),
        Variant("square root (a norm)", """
            def sse_loss(y_pred, y):
                return np.linalg.norm(y_pred - y)
            """, "leave out the sqrt", "value"),
        Variant("absolute errors", """
            def sse_loss(y_pred, y):
                return np.abs(y_pred - y).sum()
            """, "absolute errors", "value"),
        Variant("returns an array", """
            def sse_loss(y_pred, y):
                return ((y_pred - y) ** 2).sum(axis=1)
            """, "return a plain number", "value"),
        Variant("subtracts in place", """
            def sse_loss(y_pred, y):
                y_pred -= y
                return float((y_pred ** 2).sum())
            """, "not to modify the arrays you are given", "contract"),
        Variant("torch inside", """
            def sse_loss(y_pred, y):
                import torch
                return float(((torch.from_numpy(y_pred) - torch.from_numpy(y)) ** 2).sum())
            """, "numpy only", "rule"),
    ],
    "backward": [
        Variant("missing ReLU mask", """
            def backward(x, y, h, h_relu, y_pred, w2):
                grad_y_pred = 2.0 * (y_pred - y)
                grad_w2 = h_relu.T @ grad_y_pred
                grad_h = grad_y_pred @ w2.T
                return x.T @ grad_h, grad_w2
            """, "ReLU mask", "value"),
        Variant("transposed gradient", """
            def backward(x, y, h, h_relu, y_pred, w2):
                grad_y_pred = 2.0 * (y_pred - y)
                grad_w2 = grad_y_pred.T @ h_relu
                grad_h = (grad_y_pred @ w2.T) * (h > 0)
                return x.T @ grad_h, grad_w2
            """, "transpose of the expected one", "value"),
        Variant("forgot the factor 2", """
            def backward(x, y, h, h_relu, y_pred, w2):
                grad_y_pred = y_pred - y
                grad_w2 = h_relu.T @ grad_y_pred
                grad_h = (grad_y_pred @ w2.T) * (h > 0)
                return x.T @ grad_h, grad_w2
            """, "is 2 (y_pred - y)", "value"),
        Variant("gradient of the mean loss", """
            def backward(x, y, h, h_relu, y_pred, w2):
                grad_y_pred = 2.0 * (y_pred - y) / y.size
                grad_w2 = h_relu.T @ grad_y_pred
                grad_h = (grad_y_pred @ w2.T) * (h > 0)
                return x.T @ grad_h, grad_w2
            """, "a sum where a mean belongs", "value"),
        Variant("mask zeroes the wrong entries", """
            def backward(x, y, h, h_relu, y_pred, w2):
                grad_y_pred = 2.0 * (y_pred - y)
                grad_w2 = h_relu.T @ grad_y_pred
                grad_h = (grad_y_pred @ w2.T) * (h < 0)
                return x.T @ grad_h, grad_w2
            """, "the ReLU mask is inverted", "value"),
        Variant("error computed in place on y_pred", """
            def backward(x, y, h, h_relu, y_pred, w2):
                grad_y_pred = y_pred
                grad_y_pred -= y
                grad_y_pred *= 2
                grad_w2 = h_relu.T @ grad_y_pred
                grad_h = (grad_y_pred @ w2.T) * (h > 0)
                return x.T @ grad_h, grad_w2
            """, "not to modify the arrays you are given", "contract"),
        Variant("torch does the arithmetic", """
            def backward(x, y, h, h_relu, y_pred, w2):
                import torch
                g = 2.0 * (torch.from_numpy(y_pred) - torch.from_numpy(y))
                grad_w2 = torch.from_numpy(h_relu).T @ g
                grad_h = (g @ torch.from_numpy(w2).T) * torch.from_numpy(h > 0)
                return (torch.from_numpy(x).T @ grad_h).numpy(), grad_w2.numpy()
            """, "numpy only", "rule"),
    ],
    "train": [
        Variant("off-by-one loop", """
            def train(x, y, w1, w2, lr, steps):
                losses = []
                for _ in range(1, steps):
                    h, h_relu, y_pred = forward(x, w1, w2)
                    losses.append(sse_loss(y_pred, y))
                    g1, g2 = backward(x, y, h, h_relu, y_pred, w2)
                    w1, w2 = w1 - lr * g1, w2 - lr * g2
                return w1, w2, losses
            """, "one step too few or too many", "value"),
        Variant("gradient ascent", """
            def train(x, y, w1, w2, lr, steps):
                losses = []
                for _ in range(steps):
                    h, h_relu, y_pred = forward(x, w1, w2)
                    losses.append(sse_loss(y_pred, y))
                    g1, g2 = backward(x, y, h, h_relu, y_pred, w2)
                    w1, w2 = w1 + lr * g1, w2 + lr * g2
                return w1, w2, losses
            """, "subtract lr * gradient (descent)", "value"),
        Variant("loss recorded after the update", """
            def train(x, y, w1, w2, lr, steps):
                losses = []
                for _ in range(steps):
                    h, h_relu, y_pred = forward(x, w1, w2)
                    g1, g2 = backward(x, y, h, h_relu, y_pred, w2)
                    w1, w2 = w1 - lr * g1, w2 - lr * g2
                    losses.append(sse_loss(forward(x, w1, w2)[2], y))
                return w1, w2, losses
            """, "record each loss before its update", "value"),
        Variant("only w2 is updated", """
            def train(x, y, w1, w2, lr, steps):
                losses = []
                for _ in range(steps):
                    h, h_relu, y_pred = forward(x, w1, w2)
                    losses.append(sse_loss(y_pred, y))
                    g1, g2 = backward(x, y, h, h_relu, y_pred, w2)
                    w2 = w2 - lr * g2
                return w1, w2, losses
            """, "update both weights", "value"),
        Variant("updates the caller's arrays in place", """
            def train(x, y, w1, w2, lr, steps):
                losses = []
                for _ in range(steps):
                    h, h_relu, y_pred = forward(x, w1, w2)
                    losses.append(sse_loss(y_pred, y))
                    g1, g2 = backward(x, y, h, h_relu, y_pred, w2)
                    w1 -= lr * g1
                    w2 -= lr * g2
                return w1, w2, losses
            """, "writes into the caller's array", "contract"),
        Variant("backward's gradients unpacked in the wrong order", """
            def train(x, y, w1, w2, lr, steps):
                losses = []
                for _ in range(steps):
                    h, h_relu, y_pred = forward(x, w1, w2)
                    losses.append(sse_loss(y_pred, y))
                    g2, g1 = backward(x, y, h, h_relu, y_pred, w2)
                    w1, w2 = w1 - lr * g1, w2 - lr * g2
                return w1, w2, losses
            """, "backward returns (grad_w1, grad_w2)", "dependency"),
        Variant("torch for the update", """
            def train(x, y, w1, w2, lr, steps):
                import torch
                losses = []
                for _ in range(steps):
                    h, h_relu, y_pred = forward(x, w1, w2)
                    losses.append(sse_loss(y_pred, y))
                    g1, g2 = backward(x, y, h, h_relu, y_pred, w2)
                    w1 = (torch.from_numpy(w1) - lr * torch.from_numpy(g1)).numpy()
                    w2 = (torch.from_numpy(w2) - lr * torch.from_numpy(g2)).numpy()
                return w1, w2, losses
            """, "numpy only", "rule"),
    ],
}

ALTERNATIVES = {
    "forward": [
        Variant("np.dot, np.where, float64 copy", """
            def forward(x, w1, w2):
                h = np.dot(x, w1)
                h_relu = np.where(h > 0, h, 0.0)
                y_pred = np.dot(h_relu, w2)
                return h, h_relu, y_pred
            """),
        Variant("a relu helper of my own, float64 kept", """
            def relu(a):
                return a * (a > 0)

            def forward(x, w1, w2):
                h = x.dot(w1)
                h_relu = relu(h)
                return h, h_relu, h_relu.dot(w2)
            """),
        Variant("explicit loops over the batch", """
            def forward(x, w1, w2):
                h = np.zeros((x.shape[0], w1.shape[1]))
                for n in range(x.shape[0]):
                    h[n] = x[n] @ w1
                h_relu = h.clip(min=0)
                return h, h_relu, np.einsum("nh,hk->nk", h_relu, w2)
            """),
    ],
    "sse_loss": [
        Variant("python loop over rows", """
            def sse_loss(y_pred, y):
                total = 0.0
                for row_pred, row in zip(y_pred, y):
                    total += float(((row_pred - row) ** 2).sum())
                return total
            """),
        Variant("np.sum of squares, numpy scalar", """
            def sse_loss(y_pred, y):
                d = (y_pred - y).ravel()
                return d @ d
            """),
    ],
    "backward": [
        Variant("np.where mask, a helper for the layer", """
            def linear_backward(inp, grad_out, w):
                return inp.T @ grad_out, grad_out @ w.T

            def backward(x, y, h, h_relu, y_pred, w2):
                grad_y_pred = 2.0 * (y_pred - y)
                grad_w2, grad_h_relu = linear_backward(h_relu, grad_y_pred, w2)
                grad_h = np.where(h > 0, grad_h_relu, 0.0)
                return x.T @ grad_h, grad_w2
            """),
        Variant("mask from h_relu, in-place copy", """
            def backward(x, y, h, h_relu, y_pred, w2):
                grad_y_pred = 2 * (y_pred - y)
                grad_w2 = np.dot(h_relu.T, grad_y_pred)
                grad_h = np.dot(grad_y_pred, w2.T)
                grad_h[h_relu <= 0] = 0
                return np.dot(x.T, grad_h), grad_w2
            """),
        Variant("einsum", """
            def backward(x, y, h, h_relu, y_pred, w2):
                g = 2 * (y_pred - y)
                grad_w2 = np.einsum("nh,nk->hk", h_relu, g)
                grad_h = np.einsum("nk,hk->nh", g, w2) * np.heaviside(h, 0.0)
                return np.einsum("nd,nh->dh", x, grad_h), grad_w2
            """),
    ],
    "train": [
        Variant("in-place updates, numpy array of losses", """
            def train(x, y, w1, w2, lr, steps):
                w1, w2 = w1.copy(), w2.copy()
                losses = np.zeros(steps)
                for t in range(steps):
                    h, h_relu, y_pred = forward(x, w1, w2)
                    losses[t] = sse_loss(y_pred, y)
                    g1, g2 = backward(x, y, h, h_relu, y_pred, w2)
                    w1 -= lr * g1
                    w2 -= lr * g2
                return w1, w2, losses
            """),
        Variant("an update helper, losses as numpy floats", """
            def step(w, g, lr):
                return w - lr * g

            def train(x, y, w1, w2, lr, steps):
                losses = []
                for _ in range(steps):
                    h, h_relu, y_pred = forward(x, w1, w2)
                    losses.append(np.float64(sse_loss(y_pred, y)))
                    grad_w1, grad_w2 = backward(x, y, h, h_relu, y_pred, w2)
                    w1, w2 = step(w1, grad_w1, lr), step(w2, grad_w2, lr)
                return w1, w2, losses
            """),
        Variant("while loop", """
            def train(x, y, w1, w2, lr, steps):
                losses, t = [], 0
                while t < steps:
                    h, h_relu, y_pred = forward(x, w1, w2)
                    losses.append(sse_loss(y_pred, y))
                    grads = backward(x, y, h, h_relu, y_pred, w2)
                    w1, w2 = [w - lr * g for w, g in zip((w1, w2), grads)]
                    t += 1
                return w1, w2, losses
            """),
    ],
}
