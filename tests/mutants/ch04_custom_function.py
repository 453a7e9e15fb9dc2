"""Chapter 04: plausible wrong answers (each must lose its exercise's points, with the
message a learner would need) and correct answers written differently (each keeps them)."""

from mutation import Variant

MUTANTS = {
    "MyReLU": [
        Variant("backward without the mask", """
            class MyReLU(Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return x.clamp(min=0)

                @staticmethod
                def backward(ctx, grad_output):
                    return grad_output.clone()
            """, "passes grad_output through unchanged", kind="value"),
        Variant("forgot grad_output", """
            class MyReLU(Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return x.clamp(min=0)

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    return (x > 0).to(x.dtype)
            """, "local derivative only", kind="value"),
        Variant("gradient passes at x = 0", """
            class MyReLU(Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return x.clamp(min=0)

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    grad_x = grad_output.clone()
                    grad_x[x < 0] = 0
                    return grad_x
            """, "at x = 0 the gradient must be 0", kind="value"),
        Variant("autograd inside backward", """
            class MyReLU(Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return x.clamp(min=0)

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    with torch.enable_grad():
                        x = x.detach().requires_grad_()
                        (g,) = torch.autograd.grad(torch.relu(x), x, grad_output)
                    return g
            """, "calls autograd itself", kind="rule"),
        Variant("inverted mask", """
            class MyReLU(Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return x.clamp(min=0)

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    g = grad_output.clone()
                    g[x > 0] = 0
                    return g
            """, "the mask is inverted", kind="value"),
        Variant("forward clamps its input in place", """
            class MyReLU(Function):
                @staticmethod
                def forward(ctx, x):
                    y = x.clamp_(min=0)
                    ctx.save_for_backward(y)
                    return y

                @staticmethod
                def backward(ctx, grad_output):
                    (y,) = ctx.saved_tensors
                    return grad_output * (y > 0)
            """, "changed its input", kind="contract"),
        Variant("zeros made without device=", """
            class MyReLU(Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return x.clamp(min=0)

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    return torch.where(x > 0, grad_output, torch.zeros(x.shape))
            """, "created without device=", kind="device"),
        Variant("forward forgets the clamp", """
            class MyReLU(Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return x.clone()

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    return grad_output * (x > 0)
            """, "forward returns its input unchanged", kind="value"),
    ],
    "MySigmoid": [
        Variant("saves the input", """
            class MySigmoid(Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return torch.sigmoid(x)

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    y = torch.sigmoid(x)
                    return grad_output * y * (1 - y)
            """, "saved its input x", kind="rule"),
        Variant("formula applied to the input", """
            class MySigmoid(Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return 1 / (1 + torch.exp(-x))

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    return grad_output * x * (1 - x)
            """, "uses the input x", kind="value"),
        Variant("forgot grad_output", """
            class MySigmoid(Function):
                @staticmethod
                def forward(ctx, x):
                    y = torch.sigmoid(x)
                    ctx.save_for_backward(y)
                    return y

                @staticmethod
                def backward(ctx, grad_output):
                    (y,) = ctx.saved_tensors
                    return y * (1 - y)
            """, "local derivative only", kind="value"),
        Variant("output kept as a ctx attribute", """
            class MySigmoid(Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.y = torch.sigmoid(x)
                    return ctx.y

                @staticmethod
                def backward(ctx, grad_output):
                    return grad_output * ctx.y * (1 - ctx.y)
            """, "nothing was saved with ctx.save_for_backward", kind="rule"),
        Variant("sign of the exponent", """
            class MySigmoid(Function):
                @staticmethod
                def forward(ctx, x):
                    y = 1 / (1 + torch.exp(x))
                    ctx.save_for_backward(y)
                    return y

                @staticmethod
                def backward(ctx, grad_output):
                    (y,) = ctx.saved_tensors
                    return grad_output * y * (1 - y)
            """, "computes sigmoid(-x)", kind="value"),
        Variant("saves input and output", """
            class MySigmoid(Function):
                @staticmethod
                def forward(ctx, x):
                    y = torch.sigmoid(x)
                    ctx.save_for_backward(y, x)
                    return y

                @staticmethod
                def backward(ctx, grad_output):
                    y, x = ctx.saved_tensors
                    return grad_output * y * (1 - y)
            """, "two tensors were saved", kind="rule"),
    ],
    "LegendreP3": [
        Variant("forgot the 1/2 in forward", """
            class LegendreP3(Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return 5 * x ** 3 - 3 * x

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    return grad_output * 1.5 * (5 * x ** 2 - 1)
            """, "forward is twice P3", kind="value"),
        Variant("forgot grad_output", """
            class LegendreP3(Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return 0.5 * (5 * x ** 3 - 3 * x)

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    return 1.5 * (5 * x ** 2 - 1)
            """, "P3'(x) only", kind="value"),
        Variant("forgot the 1/2 in backward", """
            class LegendreP3(Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return 0.5 * (5 * x ** 3 - 3 * x)

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    return grad_output * (15 * x ** 2 - 3)
            """, "twice the expected", kind="value"),
        Variant("autograd inside backward", """
            class LegendreP3(Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return 0.5 * (5 * x ** 3 - 3 * x)

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    with torch.enable_grad():
                        x = x.detach().requires_grad_()
                        y = 0.5 * (5 * x ** 3 - 3 * x)
                        y.backward(grad_output)
                    return x.grad
            """, "calls autograd itself", kind="rule"),
        Variant("derivative of 3x/2 taken as 3", """
            class LegendreP3(Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return 0.5 * (5 * x ** 3 - 3 * x)

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    return grad_output * (7.5 * x ** 2 - 3)
            """, "the derivative of 3x/2 is 3/2", kind="value"),
        Variant("computes in float32", """
            class LegendreP3(Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    x = x.float()
                    return 0.5 * (5 * x ** 3 - 3 * x)

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    return grad_output * 1.5 * (5 * x ** 2 - 1)
            """, "keep the input's dtype", kind="value"),
        Variant("x kept as a ctx attribute", """
            class LegendreP3(Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.x = x
                    return 0.5 * (5 * x ** 3 - 3 * x)

                @staticmethod
                def backward(ctx, grad_output):
                    return grad_output * 1.5 * (5 * ctx.x ** 2 - 1)
            """, "nothing was saved with ctx.save_for_backward", kind="rule"),
    ],
    "MyLinear": [
        Variant("bias forgotten in forward", """
            class MyLinear(Function):
                @staticmethod
                def forward(ctx, x, weight, bias=None):
                    ctx.save_for_backward(x, weight, bias)
                    return x @ weight.T

                @staticmethod
                def backward(ctx, grad_output):
                    x, weight, bias = ctx.saved_tensors
                    grad_bias = grad_output.sum(0) if bias is not None else None
                    return grad_output @ weight, grad_output.T @ x, grad_bias
            """, "the bias is missing from forward", kind="value"),
        Variant("ignores needs_input_grad", """
            class MyLinear(Function):
                @staticmethod
                def forward(ctx, x, weight, bias=None):
                    ctx.save_for_backward(x, weight, bias)
                    y = x @ weight.T
                    return y if bias is None else y + bias

                @staticmethod
                def backward(ctx, grad_output):
                    x, weight, bias = ctx.saved_tensors
                    grad_bias = grad_output.sum(0) if bias is not None else None
                    return grad_output @ weight, grad_output.T @ x, grad_bias
            """, "although ctx.needs_input_grad", kind="rule"),
        Variant("grad_bias is a mean", """
            class MyLinear(Function):
                @staticmethod
                def forward(ctx, x, weight, bias=None):
                    ctx.save_for_backward(x, weight, bias)
                    y = x @ weight.T
                    return y if bias is None else y + bias

                @staticmethod
                def backward(ctx, grad_output):
                    x, weight, bias = ctx.saved_tensors
                    gx = grad_output @ weight if ctx.needs_input_grad[0] else None
                    gw = grad_output.T @ x if ctx.needs_input_grad[1] else None
                    gb = grad_output.mean(0) if bias is not None and ctx.needs_input_grad[2] else None
                    return gx, gw, gb
            """, "mean over the batch", kind="value"),
        Variant("grad_weight transposed", """
            class MyLinear(Function):
                @staticmethod
                def forward(ctx, x, weight, bias=None):
                    ctx.save_for_backward(x, weight, bias)
                    y = x @ weight.T
                    return y if bias is None else y + bias

                @staticmethod
                def backward(ctx, grad_output):
                    x, weight, bias = ctx.saved_tensors
                    gx = grad_output @ weight if ctx.needs_input_grad[0] else None
                    gw = x.T @ grad_output if ctx.needs_input_grad[1] else None
                    gb = grad_output.sum(0) if bias is not None and ctx.needs_input_grad[2] else None
                    return gx, gw, gb
            """, "gradient of the wrong shape", kind="value"),
        Variant("needs_input_grad[2] read without a bias", """
            class MyLinear(Function):
                @staticmethod
                def forward(ctx, x, weight, bias=None):
                    ctx.save_for_backward(x, weight)
                    y = x @ weight.T
                    return y if bias is None else y + bias

                @staticmethod
                def backward(ctx, grad_output):
                    x, weight = ctx.saved_tensors
                    gx = grad_output @ weight if ctx.needs_input_grad[0] else None
                    gw = grad_output.T @ x if ctx.needs_input_grad[1] else None
                    gb = grad_output.sum(0) if ctx.needs_input_grad[2] else None
                    return gx, gw, gb
            """, "test `bias is not None` before reading", kind="value"),
        Variant("autograd inside backward", """
            class MyLinear(Function):
                @staticmethod
                def forward(ctx, x, weight, bias=None):
                    ctx.save_for_backward(x, weight, bias)
                    return F.linear(x, weight, bias)

                @staticmethod
                def backward(ctx, grad_output):
                    x, weight, bias = ctx.saved_tensors
                    with torch.enable_grad():
                        leaves = [t.detach().requires_grad_() for t in (x, weight, bias) if t is not None]
                        grads = torch.autograd.grad(F.linear(*leaves), leaves, grad_output)
                    grads = [g if need else None for g, need in zip(grads, ctx.needs_input_grad)]
                    return tuple(grads) + (None,) * (3 - len(grads))
            """, "calls autograd itself", kind="rule"),
        Variant("grad_weight averaged over the batch", """
            class MyLinear(Function):
                @staticmethod
                def forward(ctx, x, weight, bias=None):
                    ctx.save_for_backward(x, weight, bias)
                    y = x @ weight.T
                    return y if bias is None else y + bias

                @staticmethod
                def backward(ctx, grad_output):
                    x, weight, bias = ctx.saved_tensors
                    gx = grad_output @ weight if ctx.needs_input_grad[0] else None
                    gw = grad_output.T @ x / x.shape[0] if ctx.needs_input_grad[1] else None
                    gb = grad_output.sum(0) if bias is not None and ctx.needs_input_grad[2] else None
                    return gx, gw, gb
            """, "divided by the batch size", kind="value"),
        Variant("ones made without device= for grad_bias", """
            class MyLinear(Function):
                @staticmethod
                def forward(ctx, x, weight, bias=None):
                    ctx.save_for_backward(x, weight, bias)
                    y = x @ weight.T
                    return y if bias is None else y + bias

                @staticmethod
                def backward(ctx, grad_output):
                    x, weight, bias = ctx.saved_tensors
                    gx = grad_output @ weight if ctx.needs_input_grad[0] else None
                    gw = grad_output.T @ x if ctx.needs_input_grad[1] else None
                    gb = None
                    if bias is not None and ctx.needs_input_grad[2]:
                        gb = (torch.ones(1, grad_output.shape[0], dtype=grad_output.dtype) @ grad_output)[0]
                    return gx, gw, gb
            """, "must live on the input's device", kind="device"),
    ],
    "train_with_myrelu": [
        Variant("torch.relu instead of MyReLU", """
            def train_with_myrelu(x, y, w1, w2, lr, steps):
                def loss_fn():
                    return (torch.relu(x @ w1) @ w2 - y).pow(2).sum()
                return w1, w2, descend(loss_fn, [w1, w2], lr, steps)
            """, "MyReLU.apply was called 0 times", kind="rule"),
        Variant("gradients never zeroed", """
            def train_with_myrelu(x, y, w1, w2, lr, steps):
                losses = []
                for _ in range(steps):
                    loss = (MyReLU.apply(x @ w1) @ w2 - y).pow(2).sum()
                    losses.append(loss.item())
                    loss.backward()
                    with torch.no_grad():
                        w1 -= lr * w1.grad
                        w2 -= lr * w2.grad
                return w1, w2, losses
            """, "the gradients accumulate", kind="value"),
        Variant("mean squared error", """
            def train_with_myrelu(x, y, w1, w2, lr, steps):
                def loss_fn():
                    return (MyReLU.apply(x @ w1) @ w2 - y).pow(2).mean()
                return w1, w2, descend(loss_fn, [w1, w2], lr, steps)
            """, "mean of the squared errors", kind="value"),
        Variant("losses kept as tensors", """
            def train_with_myrelu(x, y, w1, w2, lr, steps):
                losses = []
                for _ in range(steps):
                    loss = (MyReLU.apply(x @ w1) @ w2 - y).pow(2).sum()
                    losses.append(loss)
                    loss.backward()
                    with torch.no_grad():
                        w1 -= lr * w1.grad
                        w2 -= lr * w2.grad
                        w1.grad.zero_()
                        w2.grad.zero_()
                return w1, w2, losses
            """, "plain number", kind="value"),
        Variant("loss recorded after the update", """
            def train_with_myrelu(x, y, w1, w2, lr, steps):
                losses = []
                for _ in range(steps):
                    loss = (MyReLU.apply(x @ w1) @ w2 - y).pow(2).sum()
                    loss.backward()
                    with torch.no_grad():
                        w1 -= lr * w1.grad
                        w2 -= lr * w2.grad
                        w1.grad.zero_()
                        w2.grad.zero_()
                        losses.append(float((MyReLU.apply(x @ w1) @ w2 - y).pow(2).sum()))
                return w1, w2, losses
            """, "one step late", kind="value"),
        Variant("x switched to requires_grad", """
            def train_with_myrelu(x, y, w1, w2, lr, steps):
                x.requires_grad_(True)
                def loss_fn():
                    return (MyReLU.apply(x @ w1) @ w2 - y).pow(2).sum()
                return w1, w2, descend(loss_fn, [w1, w2], lr, steps)
            """, "leave x and y as they were given", kind="contract"),
    ],
}

ALTERNATIVES = {
    "MyReLU": [
        Variant("saves the output, torch.where", """
            class MyReLU(Function):
                @staticmethod
                def forward(ctx, x):
                    y = torch.relu(x)
                    ctx.save_for_backward(y)
                    return y

                @staticmethod
                def backward(ctx, grad_output):
                    (y,) = ctx.saved_tensors
                    return torch.where(y > 0, grad_output, torch.zeros_like(grad_output))
            """),
        Variant("mask product, tuple return, once_differentiable", """
            from torch.autograd.function import once_differentiable

            class MyReLU(Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return x * (x > 0)

                @staticmethod
                @once_differentiable
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    return (grad_output * (x > 0).to(grad_output.dtype),)
            """),
    ],
    "MySigmoid": [
        Variant("torch.sigmoid, y - y*y", """
            class MySigmoid(Function):
                @staticmethod
                def forward(ctx, x):
                    out = torch.sigmoid(x)
                    ctx.save_for_backward(out)
                    return out

                @staticmethod
                def backward(ctx, grad_output):
                    out = ctx.saved_tensors[0]
                    return grad_output * (out - out * out)
            """),
        Variant("via tanh, tuple return", """
            class MySigmoid(Function):
                @staticmethod
                def forward(ctx, x):
                    y = 0.5 * (1 + torch.tanh(0.5 * x))
                    ctx.save_for_backward(y)
                    return y

                @staticmethod
                def backward(ctx, grad_output):
                    (y,) = ctx.saved_tensors
                    return (y * (1 - y) * grad_output,)
            """),
    ],
    "LegendreP3": [
        Variant("Horner form", """
            class LegendreP3(Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return x * (2.5 * x * x - 1.5)

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    return grad_output * (7.5 * x * x - 1.5)
            """),
        Variant("float64 inside", """
            class LegendreP3(Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    d = x.double()
                    return ((5 * d.pow(3) - 3 * d) / 2).to(x.dtype)

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    d = x.double()
                    return (grad_output.double() * (15 * d.pow(2) - 3) / 2).to(x.dtype)
            """),
    ],
    "MyLinear": [
        Variant("F.linear forward, flag attribute, einsum", """
            class MyLinear(Function):
                @staticmethod
                def forward(ctx, x, weight, bias=None):
                    ctx.has_bias = bias is not None
                    ctx.save_for_backward(x, weight)
                    return F.linear(x, weight, bias)

                @staticmethod
                def backward(ctx, grad_output):
                    x, weight = ctx.saved_tensors
                    need = ctx.needs_input_grad
                    gx = torch.einsum("no,oi->ni", grad_output, weight) if need[0] else None
                    gw = torch.einsum("no,ni->oi", grad_output, x) if need[1] else None
                    if not ctx.has_bias:
                        return gx, gw
                    return gx, gw, (grad_output.sum(dim=0) if need[2] else None)
            """),
        Variant("addmm and mm", """
            class MyLinear(Function):
                @staticmethod
                def forward(ctx, x, weight, bias=None):
                    ctx.save_for_backward(x, weight, bias)
                    if bias is None:
                        return x.mm(weight.t())
                    return torch.addmm(bias, x, weight.t())

                @staticmethod
                def backward(ctx, grad_output):
                    x, weight, bias = ctx.saved_tensors
                    grads = [None, None, None]
                    if ctx.needs_input_grad[0]:
                        grads[0] = grad_output.mm(weight)
                    if ctx.needs_input_grad[1]:
                        grads[1] = grad_output.t().mm(x)
                    if bias is not None and ctx.needs_input_grad[2]:
                        grads[2] = grad_output.sum(0)
                    return tuple(grads)
            """),
    ],
    "train_with_myrelu": [
        Variant("own loop, grad = None, sub_, float()", """
            def train_with_myrelu(x, y, w1, w2, lr, steps):
                losses = []
                for step in range(steps):
                    h_relu = MyReLU.apply(x.mm(w1))
                    loss = ((h_relu.mm(w2) - y) ** 2).sum()
                    losses.append(float(loss))
                    loss.backward()
                    with torch.no_grad():
                        w1.sub_(lr * w1.grad)
                        w2.sub_(lr * w2.grad)
                    w1.grad = None
                    w2.grad = None
                return w1, w2, losses
            """, kind="own loop"),
        Variant("torch.autograd.grad and new leaves", """
            def train_with_myrelu(x, y, w1, w2, lr, steps):
                losses = []
                for _ in range(steps):
                    loss = (MyReLU.apply(x @ w1) @ w2 - y).square().sum()
                    losses.append(loss.item())
                    g1, g2 = torch.autograd.grad(loss, (w1, w2))
                    w1 = (w1 - lr * g1).detach().requires_grad_()
                    w2 = (w2 - lr * g2).detach().requires_grad_()
                return w1, w2, losses
            """, kind="new tensors instead of in-place updates"),
        Variant("module-level alias my_relu = MyReLU.apply", """
            my_relu = MyReLU.apply

            def train_with_myrelu(x, y, w1, w2, lr, steps):
                def loss_fn():
                    return ((my_relu(x @ w1) @ w2 - y) ** 2).sum()
                losses = descend(loss_fn, [w1, w2], lr, steps)
                return w1, w2, losses
            """, kind="alias"),
        Variant("helper function and a loop", """
            def hidden_layer(x, w1):
                return MyReLU.apply(torch.matmul(x, w1))

            def train_with_myrelu(x, y, w1, w2, lr, steps):
                losses = []
                for _ in range(steps):
                    loss = torch.sum((hidden_layer(x, w1) @ w2 - y) ** 2)
                    loss.backward()
                    losses.append(loss.item())
                    with torch.no_grad():
                        for w in (w1, w2):
                            w -= lr * w.grad
                            w.grad.zero_()
                return w1, w2, losses
            """, kind="helper function"),
    ],
}
