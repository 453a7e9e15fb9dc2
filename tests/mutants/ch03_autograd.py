"""Chapter 03: plausible wrong answers (each must lose its exercise's points, with the
message a learner would need) and correct answers written differently (each keeps them)."""

from mutation import Variant

MUTANTS = {
    "grad_of": [
        Variant("backward on the caller's x", """
            def grad_of(f, x):
                x.requires_grad_(True)
                f(x).backward()
                return x.grad
            """, "differentiate a copy", "contract"),
        Variant("cleans up after backward on x", """
            def grad_of(f, x):
                x.requires_grad_(True)
                f(x).backward()
                g = x.grad.clone()
                x.grad = None
                x.requires_grad_(False)
                return g
            """, "backward() would store into the .grad", "contract"),
        Variant("no enable_grad: fails under no_grad", """
            def grad_of(f, x):
                xx = x.detach().requires_grad_(True)
                (g,) = torch.autograd.grad(f(xx), xx)
                return g
            """, "torch.enable_grad()", "contract"),
        Variant("differentiates in float32", """
            def grad_of(f, x):
                with torch.enable_grad():
                    xx = x.detach().float().requires_grad_(True)
                    (g,) = torch.autograd.grad(f(xx), xx)
                return g
            """, "keep the input's dtype", "value"),
        Variant("gradient ascent direction", """
            def grad_of(f, x):
                with torch.enable_grad():
                    xx = x.detach().requires_grad_(True)
                    (g,) = torch.autograd.grad(-f(xx), xx)
                return g
            """, "the sign is flipped", "value"),
    ],
    "jacobian_rows": [
        Variant("columns instead of rows (transposed)", """
            def jacobian_rows(f, x):
                with torch.enable_grad():
                    xx = x.detach().requires_grad_(True)
                    y = f(xx)
                    rows = [torch.autograd.grad(y[i], xx, retain_graph=True)[0]
                            for i in range(y.shape[0])]
                return torch.stack(rows, dim=1)
            """, "transpose", "value"),
        Variant(".grad never zeroed between rows", """
            def jacobian_rows(f, x):
                xx = x.detach().requires_grad_(True)
                with torch.enable_grad():
                    y = f(xx)
                    rows = []
                    for i in range(y.shape[0]):
                        y[i].backward(retain_graph=True)
                        rows.append(xx.grad.clone())
                return torch.stack(rows)
            """, "accumulates over backward calls", "value"),
        Variant("gradient of the sum in every row", """
            def jacobian_rows(f, x):
                with torch.enable_grad():
                    xx = x.detach().requires_grad_(True)
                    y = f(xx)
                    (g,) = torch.autograd.grad(y.sum(), xx)
                return torch.stack([g] * y.shape[0])
            """, "gradient of the sum of all outputs", "value"),
        Variant("retain_graph forgotten", """
            def jacobian_rows(f, x):
                with torch.enable_grad():
                    xx = x.detach().requires_grad_(True)
                    y = f(xx)
                    rows = [torch.autograd.grad(y[i], xx)[0] for i in range(y.shape[0])]
                return torch.stack(rows)
            """, "retain_graph=True", "value"),
        Variant("torch.func.jacrev does it all", """
            def jacobian_rows(f, x):
                return torch.func.jacrev(f)(x)
            """, "build it row by row", "rule"),
        Variant("backward on the caller's x", """
            def jacobian_rows(f, x):
                x.requires_grad_(True)
                y = f(x)
                rows = []
                for i in range(y.shape[0]):
                    x.grad = None
                    y[i].backward(retain_graph=True)
                    rows.append(x.grad.clone())
                return torch.stack(rows)
            """, "differentiate a copy", "contract"),
        Variant("Jacobian rows written into a CPU tensor", """
            def jacobian_rows(f, x):
                with torch.enable_grad():
                    xx = x.detach().requires_grad_(True)
                    y = f(xx)
                    J = torch.empty(y.shape[0], x.shape[0], dtype=x.dtype)
                    for i in range(y.shape[0]):
                        J[i] = torch.autograd.grad(y[i], xx, retain_graph=True)[0]
                return J
            """, "copied a tensor off the input's device", "device"),
        Variant("jacrev under another name, one row at a time", """
            from torch.func import jacrev as derivative

            def jacobian_rows(f, x):
                rows = [derivative(lambda v: f(v)[i])(x) for i in range(f(x).shape[0])]
                return torch.stack(rows)
            """, "build it row by row", "rule"),
    ],
    "fixed_update_loop": [
        Variant("update outside no_grad (bug 1 kept)", """
            def fixed_update_loop(x, y, w, b, lr, steps):
                losses = []
                for _ in range(steps):
                    loss = ((x @ w + b - y) ** 2).mean()
                    losses.append(loss.item())
                    loss.backward()
                    w -= lr * w.grad
                    b -= lr * b.grad
                    w.grad.zero_()
                    b.grad.zero_()
                return w, b, losses
            """, "inside `with torch.no_grad():`", "value"),
        Variant("re-assignment under no_grad (bug 2 kept)", """
            def fixed_update_loop(x, y, w, b, lr, steps):
                losses = []
                for _ in range(steps):
                    loss = ((x @ w + b - y) ** 2).mean()
                    losses.append(loss.item())
                    loss.backward()
                    with torch.no_grad():
                        w = w - lr * w.grad
                        b = b - lr * b.grad
                return w, b, losses
            """, "re-assign", "contract"),
        Variant("gradients never zeroed (bug 3 kept)", """
            def fixed_update_loop(x, y, w, b, lr, steps):
                losses = []
                for _ in range(steps):
                    loss = ((x @ w + b - y) ** 2).mean()
                    losses.append(loss.item())
                    loss.backward()
                    with torch.no_grad():
                        w -= lr * w.grad
                        b -= lr * b.grad
                return w, b, losses
            """, "the gradients accumulate", "value"),
        Variant("only w.grad zeroed", """
            def fixed_update_loop(x, y, w, b, lr, steps):
                losses = []
                for _ in range(steps):
                    loss = ((x @ w + b - y) ** 2).mean()
                    losses.append(loss.item())
                    loss.backward()
                    with torch.no_grad():
                        w -= lr * w.grad
                        b -= lr * b.grad
                    w.grad.zero_()
                return w, b, losses
            """, "b.grad is never zeroed", "value"),
        Variant("sum instead of mean", """
            def fixed_update_loop(x, y, w, b, lr, steps):
                losses = []
                for _ in range(steps):
                    loss = ((x @ w + b - y) ** 2).sum()
                    losses.append(loss.item())
                    loss.backward()
                    with torch.no_grad():
                        w -= lr * w.grad
                        b -= lr * b.grad
                    w.grad = None
                    b.grad = None
                return w, b, losses
            """, "the loss is the mean", "value"),
        Variant("losses kept as tensors", """
            def fixed_update_loop(x, y, w, b, lr, steps):
                losses = []
                for _ in range(steps):
                    loss = ((x @ w + b - y) ** 2).mean()
                    losses.append(loss)
                    loss.backward()
                    with torch.no_grad():
                        w -= lr * w.grad
                        b -= lr * b.grad
                    w.grad = None
                    b.grad = None
                return w, b, losses
            """, "loss.item()", "value"),
        Variant("re-assignment outside no_grad", """
            def fixed_update_loop(x, y, w, b, lr, steps):
                losses = []
                for _ in range(steps):
                    loss = ((x @ w + b - y) ** 2).mean()
                    losses.append(loss.item())
                    loss.backward()
                    w = w - lr * w.grad
                    b = b - lr * b.grad
                return w, b, losses
            """, "re-assign", "contract"),
    ],
    "autograd_two_layer_train": [
        Variant("gradients never zeroed", """
            def autograd_two_layer_train(x, y, w1, w2, lr, steps):
                losses = []
                for _ in range(steps):
                    loss = (torch.relu(x @ w1) @ w2 - y).pow(2).sum()
                    losses.append(loss.item())
                    loss.backward()
                    with torch.no_grad():
                        w1 -= lr * w1.grad
                        w2 -= lr * w2.grad
                return w1, w2, losses
            """, "zero w1.grad and w2.grad", "value"),
        Variant("update outside no_grad", """
            def autograd_two_layer_train(x, y, w1, w2, lr, steps):
                losses = []
                for _ in range(steps):
                    loss = (torch.relu(x @ w1) @ w2 - y).pow(2).sum()
                    losses.append(loss.item())
                    loss.backward()
                    w1 -= lr * w1.grad
                    w2 -= lr * w2.grad
                    w1.grad.zero_()
                    w2.grad.zero_()
                return w1, w2, losses
            """, "inside `with torch.no_grad():`", "value"),
        Variant("re-assigned weights", """
            def autograd_two_layer_train(x, y, w1, w2, lr, steps):
                losses = []
                for _ in range(steps):
                    loss = (torch.relu(x @ w1) @ w2 - y).pow(2).sum()
                    losses.append(loss.item())
                    loss.backward()
                    w1 = w1 - lr * w1.grad
                    w2 = w2 - lr * w2.grad
                return w1, w2, losses
            """, "re-assigning", "contract"),
        Variant("mean squared error", """
            def autograd_two_layer_train(x, y, w1, w2, lr, steps):
                losses = []
                for _ in range(steps):
                    loss = (torch.relu(x @ w1) @ w2 - y).pow(2).mean()
                    losses.append(loss.item())
                    loss.backward()
                    with torch.no_grad():
                        w1 -= lr * w1.grad
                        w2 -= lr * w2.grad
                    w1.grad = None
                    w2.grad = None
                return w1, w2, losses
            """, "the loss is the sum", "value"),
        Variant("loss recorded after the update", """
            def autograd_two_layer_train(x, y, w1, w2, lr, steps):
                losses = []
                for _ in range(steps):
                    loss = (torch.relu(x @ w1) @ w2 - y).pow(2).sum()
                    loss.backward()
                    with torch.no_grad():
                        w1 -= lr * w1.grad
                        w2 -= lr * w2.grad
                        losses.append((torch.relu(x @ w1) @ w2 - y).pow(2).sum().item())
                    w1.grad = None
                    w2.grad = None
                return w1, w2, losses
            """, "record each loss before its update", "value"),
        Variant("no ReLU", """
            def autograd_two_layer_train(x, y, w1, w2, lr, steps):
                losses = []
                for _ in range(steps):
                    loss = (x @ w1 @ w2 - y).pow(2).sum()
                    losses.append(loss.item())
                    loss.backward()
                    with torch.no_grad():
                        w1 -= lr * w1.grad
                        w2 -= lr * w2.grad
                    w1.grad = None
                    w2.grad = None
                return w1, w2, losses
            """, "the hidden layer has no ReLU", "value"),
    ],
}

ALTERNATIVES = {
    "grad_of": [
        Variant("backward on a cloned copy, set_grad_enabled", """
            def grad_of(f, x):
                xx = x.detach().clone()
                xx.requires_grad = True
                with torch.set_grad_enabled(True):
                    out = f(xx)
                out.backward()
                return xx.grad
            """),
        Variant("autograd.grad on a clone, explicit cast back", """
            def grad_of(f, x):
                with torch.enable_grad():
                    xx = x.detach().clone().requires_grad_()
                    g = torch.autograd.grad(f(xx), [xx], create_graph=False)[0]
                return g.detach().to(dtype=x.dtype, device=x.device)
            """),
    ],
    "jacobian_rows": [
        Variant("one-hot grad_outputs (vector-Jacobian products)", """
            def jacobian_rows(f, x):
                with torch.enable_grad():
                    xx = x.detach().requires_grad_(True)
                    y = f(xx)
                    eye = torch.eye(y.shape[0], dtype=y.dtype, device=y.device)
                    rows = [torch.autograd.grad(y, xx, grad_outputs=eye[i], retain_graph=True)[0]
                            for i in range(y.shape[0])]
                return torch.stack(rows)
            """),
        Variant("a fresh graph per row, backward and .grad", """
            def jacobian_rows(f, x):
                m = f(x.detach()).shape[0]
                J = torch.empty(m, x.shape[0], dtype=x.dtype, device=x.device)
                for i in range(m):
                    xx = x.detach().clone().requires_grad_(True)
                    with torch.enable_grad():
                        f(xx)[i].backward()
                    J[i] = xx.grad
                return J
            """),
        Variant("backward with retain_graph, zeroing .grad", """
            def jacobian_rows(f, x):
                xx = x.detach().clone().requires_grad_(True)
                with torch.enable_grad():
                    y = f(xx)
                rows = []
                for i in range(len(y)):
                    if xx.grad is not None:
                        xx.grad.zero_()
                    y[i].backward(retain_graph=True)
                    rows.append(xx.grad.clone())
                return torch.stack(rows)
            """),
    ],
    "fixed_update_loop": [
        Variant("torch.autograd.grad, grads set to None, tensor of losses", """
            def fixed_update_loop(x, y, w, b, lr, steps):
                losses = torch.zeros(steps, dtype=torch.float64)
                for t in range(steps):
                    loss = (x @ w + b - y).pow(2).mean()
                    losses[t] = loss.item()
                    gw, gb = torch.autograd.grad(loss, (w, b))
                    with torch.no_grad():
                        w.sub_(lr * gw)
                        b.sub_(lr * gb)
                return w, b, losses
            """),
        Variant(".data updates, F.mse_loss, grads set to None first", """
            def fixed_update_loop(x, y, w, b, lr, steps):
                import torch.nn.functional as F
                losses = []
                for _ in range(steps):
                    w.grad = None
                    b.grad = None
                    loss = F.mse_loss(x @ w + b, y)
                    losses.append(float(loss))
                    loss.backward()
                    w.data -= lr * w.grad
                    b.data -= lr * b.grad
                return w, b, losses
            """),
        Variant("a helper for the update, zero_ inside no_grad", """
            def sgd_step(params, lr):
                with torch.no_grad():
                    for p in params:
                        p -= lr * p.grad
                        p.grad.zero_()

            def fixed_update_loop(x, y, w, b, lr, steps):
                losses = []
                for _ in range(steps):
                    loss = ((x @ w + b - y) ** 2).mean()
                    losses.append(loss.item())
                    loss.backward()
                    sgd_step((w, b), lr)
                return w, b, losses
            """),
    ],
    "autograd_two_layer_train": [
        Variant("zero grads first, clamp and mm", """
            def autograd_two_layer_train(x, y, w1, w2, lr, steps):
                losses = []
                for _ in range(steps):
                    if w1.grad is not None:
                        w1.grad.zero_()
                        w2.grad.zero_()
                    loss = (x.mm(w1).clamp(min=0).mm(w2) - y).pow(2).sum()
                    losses.append(loss.item())
                    loss.backward()
                    with torch.no_grad():
                        for w in (w1, w2):
                            w -= lr * w.grad
                return w1, w2, losses
            """),
        Variant("copies of the weights, torch.autograd.grad", """
            def autograd_two_layer_train(x, y, w1, w2, lr, steps):
                w1 = w1.detach().clone().requires_grad_(True)
                w2 = w2.detach().clone().requires_grad_(True)
                losses = []
                t = 0
                while t < steps:
                    err = torch.nn.functional.relu(x @ w1) @ w2 - y
                    loss = (err * err).sum()
                    losses.append(float(loss.detach()))
                    g1, g2 = torch.autograd.grad(loss, [w1, w2])
                    with torch.no_grad():
                        w1.add_(g1, alpha=-lr)
                        w2.add_(g2, alpha=-lr)
                    t += 1
                return w1, w2, losses
            """),
    ],
}
