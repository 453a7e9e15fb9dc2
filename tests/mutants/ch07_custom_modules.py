"""Chapter 07: plausible wrong answers (each must lose its exercise's points, with the
message a learner would need) and correct answers written differently (each keeps them)."""

from mutation import Variant

MUTANTS = {
    "TwoLayerNet": [
        Variant("no ReLU between the layers", """
            class TwoLayerNet(nn.Module):
                def __init__(self, D_in, H, D_out):
                    super().__init__()
                    self.linear1 = nn.Linear(D_in, H)
                    self.linear2 = nn.Linear(H, D_out)

                def forward(self, x):
                    return self.linear2(self.linear1(x))
            """, "apply the ReLU between the two layers"),
        Variant("ReLU after the output layer", """
            class TwoLayerNet(nn.Module):
                def __init__(self, D_in, H, D_out):
                    super().__init__()
                    self.linear1 = nn.Linear(D_in, H)
                    self.linear2 = nn.Linear(H, D_out)

                def forward(self, x):
                    return torch.relu(self.linear2(torch.relu(self.linear1(x))))
            """, "the last layer has no activation"),
        Variant("layers kept in a plain list", """
            class TwoLayerNet(nn.Module):
                def __init__(self, D_in, H, D_out):
                    super().__init__()
                    self.layers = [nn.Linear(D_in, H), nn.Linear(H, D_out)]

                def forward(self, x):
                    return self.layers[1](torch.relu(self.layers[0](x)))
            """, "no parameter named `linear1.weight`"),
        Variant("second layer without bias", """
            class TwoLayerNet(nn.Module):
                def __init__(self, D_in, H, D_out):
                    super().__init__()
                    self.linear1 = nn.Linear(D_in, H)
                    self.linear2 = nn.Linear(H, D_out, bias=False)

                def forward(self, x):
                    return self.linear2(torch.relu(self.linear1(x)))
            """, "no parameter named `linear2.bias`"),
    ],
    "CenteredLayer": [
        Variant("centres each column", """
            class CenteredLayer(nn.Module):
                def __init__(self):
                    super().__init__()

                def forward(self, X):
                    return X - X.mean(dim=0)
            """, "each column was centred"),
        Variant("detached mean", """
            class CenteredLayer(nn.Module):
                def __init__(self):
                    super().__init__()

                def forward(self, X):
                    return X - X.mean().item()
            """, "the gradient ignores the mean"),
        Variant("a learnable offset", """
            class CenteredLayer(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.offset = nn.Parameter(torch.zeros(1))

                def forward(self, X):
                    return X - X.mean() + self.offset
            """, "expected none"),
        Variant("standardises instead", """
            class CenteredLayer(nn.Module):
                def __init__(self):
                    super().__init__()

                def forward(self, X):
                    return (X - X.mean()) / X.std()
            """, "divided by the standard deviation"),
    ],
    "ListDense": [
        Variant("plain Python list", """
            class ListDense(nn.Module):
                def __init__(self, sizes):
                    super().__init__()
                    self.params = [nn.Parameter(torch.randn(a, b)) for a, b in zip(sizes[:-1], sizes[1:])]

                def forward(self, x):
                    for i, W in enumerate(self.params):
                        x = x @ W
                        if i < len(self.params) - 1:
                            x = torch.relu(x)
                    return x
            """, "nn.ParameterList"),
        Variant("ReLU after every layer", """
            class ListDense(nn.Module):
                def __init__(self, sizes):
                    super().__init__()
                    self.params = nn.ParameterList(
                        [nn.Parameter(torch.randn(a, b)) for a, b in zip(sizes[:-1], sizes[1:])])

                def forward(self, x):
                    for W in self.params:
                        x = torch.relu(x @ W)
                    return x
            """, "ReLU after the last layer"),
        Variant("weights stored transposed", """
            class ListDense(nn.Module):
                def __init__(self, sizes):
                    super().__init__()
                    self.params = nn.ParameterList(
                        [nn.Parameter(torch.randn(b, a)) for a, b in zip(sizes[:-1], sizes[1:])])

                def forward(self, x):
                    for i, W in enumerate(self.params):
                        x = x @ W.T
                        if i < len(self.params) - 1:
                            x = torch.relu(x)
                    return x
            """, "transpose of the expected shape"),
        Variant("no ReLU at all", """
            class ListDense(nn.Module):
                def __init__(self, sizes):
                    super().__init__()
                    self.params = nn.ParameterList(
                        [nn.Parameter(torch.randn(a, b)) for a, b in zip(sizes[:-1], sizes[1:])])

                def forward(self, x):
                    for W in self.params:
                        x = x @ W
                    return x
            """, "no ReLU was applied"),
    ],
    "DictDense": [
        Variant("plain dict", """
            class DictDense(nn.Module):
                def __init__(self, D_in, heads):
                    super().__init__()
                    self.params = {name: nn.Parameter(torch.randn(D_in, d)) for name, d in heads.items()}

                def forward(self, x, choice):
                    return x @ self.params[choice]
            """, "nn.ParameterDict"),
        Variant("always the first head", """
            class DictDense(nn.Module):
                def __init__(self, D_in, heads):
                    super().__init__()
                    self.params = nn.ParameterDict(
                        {name: nn.Parameter(torch.randn(D_in, d)) for name, d in heads.items()})

                def forward(self, x, choice):
                    return x @ next(iter(self.params.values()))
            """, "use self.params[choice]"),
        Variant("heads as nn.Linear in a ModuleDict", """
            class DictDense(nn.Module):
                def __init__(self, D_in, heads):
                    super().__init__()
                    self.params = nn.ModuleDict({name: nn.Linear(D_in, d) for name, d in heads.items()})

                def forward(self, x, choice):
                    return self.params[choice](x)
            """, "no parameter named `params."),
        Variant("weights stored transposed", """
            class DictDense(nn.Module):
                def __init__(self, D_in, heads):
                    super().__init__()
                    self.params = nn.ParameterDict(
                        {name: nn.Parameter(torch.randn(d, D_in)) for name, d in heads.items()})

                def forward(self, x, choice):
                    return x @ self.params[choice].T
            """, "has shape"),
    ],
    "DynamicNet": [
        Variant("one use too few", """
            class DynamicNet(nn.Module):
                def __init__(self, D_in, H, D_out):
                    super().__init__()
                    self.input_linear = nn.Linear(D_in, H)
                    self.middle_linear = nn.Linear(H, H)
                    self.output_linear = nn.Linear(H, D_out)

                def forward(self, x, depth=None):
                    h = torch.relu(self.input_linear(x))
                    if depth is None:
                        depth = random.randint(0, 3)
                    for _ in range(depth - 1):
                        h = torch.relu(self.middle_linear(h))
                    return self.output_linear(h)
            """, "run the middle layer exactly `depth` times"),
        Variant("a new middle layer on every use", """
            class DynamicNet(nn.Module):
                def __init__(self, D_in, H, D_out):
                    super().__init__()
                    self.input_linear = nn.Linear(D_in, H)
                    self.middle_linear = nn.Linear(H, H)
                    self.output_linear = nn.Linear(H, D_out)
                    self.H = H

                def forward(self, x, depth=None):
                    h = torch.relu(self.input_linear(x))
                    if depth is None:
                        depth = random.randint(0, 3)
                    for _ in range(depth):
                        h = torch.relu(nn.Linear(self.H, self.H).to(x.device)(h))
                    return self.output_linear(h)
            """, "`y` is wrong"),
        Variant("gradient of the shared layer from its last use only", """
            class DynamicNet(nn.Module):
                def __init__(self, D_in, H, D_out):
                    super().__init__()
                    self.input_linear = nn.Linear(D_in, H)
                    self.middle_linear = nn.Linear(H, H)
                    self.output_linear = nn.Linear(H, D_out)

                def forward(self, x, depth=None):
                    h = torch.relu(self.input_linear(x))
                    if depth is None:
                        depth = random.randint(0, 3)
                    for k in range(depth):
                        h = torch.relu(self.middle_linear(h if k == 0 else h.detach()))
                    return self.output_linear(h)
            """, "the sum over its uses"),
        Variant("depth drawn once in __init__", """
            class DynamicNet(nn.Module):
                def __init__(self, D_in, H, D_out):
                    super().__init__()
                    self.input_linear = nn.Linear(D_in, H)
                    self.middle_linear = nn.Linear(H, H)
                    self.output_linear = nn.Linear(H, D_out)
                    self.depth = random.randint(0, 3)

                def forward(self, x, depth=None):
                    h = torch.relu(self.input_linear(x))
                    for _ in range(self.depth if depth is None else depth):
                        h = torch.relu(self.middle_linear(h))
                    return self.output_linear(h)
            """, "draw a new random depth on every call"),
    ],
    "corr2d": [
        Variant("true convolution (flipped kernel)", """
            def corr2d(X, K):
                kh, kw = K.shape
                K = torch.flip(K, (0, 1))
                Y = torch.zeros(X.shape[0] - kh + 1, X.shape[1] - kw + 1, dtype=X.dtype, device=X.device)
                for i in range(Y.shape[0]):
                    for j in range(Y.shape[1]):
                        Y[i, j] = (X[i:i + kh, j:j + kw] * K).sum()
                return Y
            """, "this is a convolution"),
        Variant("one position too few", """
            def corr2d(X, K):
                kh, kw = K.shape
                Y = torch.zeros(X.shape[0] - kh, X.shape[1] - kw, dtype=X.dtype, device=X.device)
                for i in range(Y.shape[0]):
                    for j in range(Y.shape[1]):
                        Y[i, j] = (X[i:i + kh, j:j + kw] * K).sum()
                return Y
            """, "(h - kh + 1) x (w - kw + 1)"),
        Variant("mean of each window", """
            def corr2d(X, K):
                kh, kw = K.shape
                Y = torch.zeros(X.shape[0] - kh + 1, X.shape[1] - kw + 1, dtype=X.dtype, device=X.device)
                for i in range(Y.shape[0]):
                    for j in range(Y.shape[1]):
                        Y[i, j] = (X[i:i + kh, j:j + kw] * K).mean()
                return Y
            """, "do not take their mean"),
        Variant("output in float32 whatever the input", """
            def corr2d(X, K):
                kh, kw = K.shape
                Y = torch.zeros((X.shape[0] - kh + 1, X.shape[1] - kw + 1))
                for i in range(Y.shape[0]):
                    for j in range(Y.shape[1]):
                        Y[i, j] = (X[i:i + kh, j:j + kw] * K).sum()
                return Y
            """, "keep the input's dtype"),
    ],
    "Conv2D": [
        Variant("bias left out of forward", """
            class Conv2D(nn.Module):
                def __init__(self, kernel_size):
                    super().__init__()
                    self.weight = nn.Parameter(torch.rand(kernel_size))
                    self.bias = nn.Parameter(torch.zeros(1))

                def forward(self, x):
                    return corr2d(x, self.weight)
            """, "the bias is missing"),
        Variant("weight as a plain tensor", """
            class Conv2D(nn.Module):
                def __init__(self, kernel_size):
                    super().__init__()
                    self.weight = torch.rand(kernel_size, requires_grad=True)
                    self.bias = nn.Parameter(torch.zeros(1))

                def forward(self, x):
                    return corr2d(x, self.weight) + self.bias
            """, "no parameter named `weight`"),
        Variant("kernel shape reversed", """
            class Conv2D(nn.Module):
                def __init__(self, kernel_size):
                    super().__init__()
                    self.weight = nn.Parameter(torch.rand(kernel_size[::-1]))
                    self.bias = nn.Parameter(torch.zeros(1))

                def forward(self, x):
                    return corr2d(x, self.weight) + self.bias
            """, "transpose of the expected shape"),
        Variant("flipped kernel", """
            class Conv2D(nn.Module):
                def __init__(self, kernel_size):
                    super().__init__()
                    self.weight = nn.Parameter(torch.rand(kernel_size))
                    self.bias = nn.Parameter(torch.zeros(1))

                def forward(self, x):
                    return corr2d(x, self.weight.flip(0, 1)) + self.bias
            """, "the kernel is flipped"),
    ],
    "pool2d": [
        Variant("mode ignored (always max)", """
            def pool2d(X, size, mode="max"):
                p_h, p_w = size
                Y = torch.zeros(X.shape[0] - p_h + 1, X.shape[1] - p_w + 1, dtype=X.dtype, device=X.device)
                for i in range(Y.shape[0]):
                    for j in range(Y.shape[1]):
                        Y[i, j] = X[i:i + p_h, j:j + p_w].max()
                return Y
            """, "this is max pooling, but mode='avg'"),
        Variant("stride equal to the window", """
            def pool2d(X, size, mode="max"):
                p_h, p_w = size
                Y = torch.zeros(X.shape[0] // p_h, X.shape[1] // p_w, dtype=X.dtype, device=X.device)
                for i in range(Y.shape[0]):
                    for j in range(Y.shape[1]):
                        w = X[i * p_h:(i + 1) * p_h, j * p_w:(j + 1) * p_w]
                        Y[i, j] = w.max() if mode == "max" else w.mean()
                return Y
            """, "stride 1"),
        Variant("average pooling sums", """
            def pool2d(X, size, mode="max"):
                p_h, p_w = size
                Y = torch.zeros(X.shape[0] - p_h + 1, X.shape[1] - p_w + 1, dtype=X.dtype, device=X.device)
                for i in range(Y.shape[0]):
                    for j in range(Y.shape[1]):
                        w = X[i:i + p_h, j:j + p_w]
                        Y[i, j] = w.max() if mode == "max" else w.sum()
                return Y
            """, "divides the sum by p_h * p_w"),
        Variant("window sizes swapped", """
            def pool2d(X, size, mode="max"):
                p_w, p_h = size
                Y = torch.zeros(X.shape[0] - p_h + 1, X.shape[1] - p_w + 1, dtype=X.dtype, device=X.device)
                for i in range(Y.shape[0]):
                    for j in range(Y.shape[1]):
                        w = X[i:i + p_h, j:j + p_w]
                        Y[i, j] = w.max() if mode == "max" else w.mean()
                return Y
            """, "the result has shape"),
    ],
    "LeNet": [
        Variant("no padding in the first convolution", """
            class LeNet(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.net = nn.Sequential(
                        nn.Conv2d(1, 6, kernel_size=5), nn.Sigmoid(),
                        nn.AvgPool2d(kernel_size=2, stride=2),
                        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
                        nn.AvgPool2d(kernel_size=2, stride=2),
                        nn.Flatten(),
                        nn.Linear(16 * 4 * 4, 120), nn.Sigmoid(),
                        nn.Linear(120, 84), nn.Sigmoid(),
                        nn.Linear(84, 10))

                def forward(self, x):
                    return self.net(x)
            """, "has shape (120, 256), expected (120, 400)"),
        Variant("max pooling instead of average", """
            class LeNet(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.net = nn.Sequential(
                        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
                        nn.MaxPool2d(kernel_size=2, stride=2),
                        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
                        nn.MaxPool2d(kernel_size=2, stride=2),
                        nn.Flatten(),
                        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
                        nn.Linear(120, 84), nn.Sigmoid(),
                        nn.Linear(84, 10))

                def forward(self, x):
                    return self.net(x)
            """, "self.net[2] (expected AvgPool2d"),
        Variant("ReLU instead of sigmoid", """
            class LeNet(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.net = nn.Sequential(
                        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(),
                        nn.AvgPool2d(kernel_size=2, stride=2),
                        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(),
                        nn.AvgPool2d(kernel_size=2, stride=2),
                        nn.Flatten(),
                        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
                        nn.Linear(120, 84), nn.ReLU(),
                        nn.Linear(84, 10))

                def forward(self, x):
                    return self.net(x)
            """, "self.net[1] (expected Sigmoid()"),
        Variant("sigmoid after the last layer", """
            class LeNet(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.net = nn.Sequential(
                        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
                        nn.AvgPool2d(kernel_size=2, stride=2),
                        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
                        nn.AvgPool2d(kernel_size=2, stride=2),
                        nn.Flatten(),
                        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
                        nn.Linear(120, 84), nn.Sigmoid(),
                        nn.Linear(84, 10))

                def forward(self, x):
                    return torch.sigmoid(self.net(x))
            """, "`y` is wrong"),
    ],
}

ALTERNATIVES = {
    "TwoLayerNet": [
        Variant("F.relu and a helper attribute without parameters", """
            class TwoLayerNet(nn.Module):
                def __init__(self, D_in, H, D_out):
                    super(TwoLayerNet, self).__init__()
                    self.linear1 = nn.Linear(D_in, H)
                    self.act = nn.ReLU()
                    self.linear2 = nn.Linear(H, D_out)

                def forward(self, x):
                    return self.linear2(self.act(self.linear1(x)))
            """),
    ],
    "CenteredLayer": [
        Variant("sum divided by the count", """
            class CenteredLayer(nn.Module):
                def forward(self, X):
                    return X - X.sum() / X.numel()
            """),
    ],
    "ListDense": [
        Variant("append in a loop, indices, F.relu", """
            class ListDense(nn.Module):
                def __init__(self, sizes):
                    super().__init__()
                    self.params = nn.ParameterList()
                    for i in range(len(sizes) - 1):
                        self.params.append(nn.Parameter(torch.rand(sizes[i], sizes[i + 1]) - 0.5))

                def forward(self, x):
                    for i in range(len(self.params)):
                        x = torch.mm(x, self.params[i])
                        if i != len(self.params) - 1:
                            x = F.relu(x)
                    return x
            """),
    ],
    "DictDense": [
        Variant("update() and torch.mm", """
            class DictDense(nn.Module):
                def __init__(self, D_in, heads):
                    super().__init__()
                    self.params = nn.ParameterDict()
                    for name, d in heads.items():
                        self.params.update({name: nn.Parameter(torch.zeros(D_in, d))})

                def forward(self, x, choice="linear1"):
                    return torch.mm(x, self.params[choice])
            """),
    ],
    "DynamicNet": [
        Variant("while loop, F.relu, torch's random generator", """
            class DynamicNet(nn.Module):
                def __init__(self, D_in, H, D_out):
                    super().__init__()
                    self.input_linear = nn.Linear(D_in, H)
                    self.middle_linear = nn.Linear(H, H)
                    self.output_linear = nn.Linear(H, D_out)

                def forward(self, x, depth=None):
                    if depth is None:
                        depth = int(torch.randint(0, 4, ()))
                    h = F.relu(self.input_linear(x))
                    while depth > 0:
                        h = F.relu(self.middle_linear(h))
                        depth -= 1
                    return self.output_linear(h)
            """),
    ],
    "corr2d": [
        Variant("vectorised with unfold", """
            def corr2d(X, K):
                kh, kw = K.shape
                windows = X.unfold(0, kh, 1).unfold(1, kw, 1)   # (h', w', kh, kw)
                return (windows * K).sum(dim=(-2, -1))
            """),
        Variant("sum over the kernel offsets", """
            def corr2d(X, K):
                kh, kw = K.shape
                h, w = X.shape[0] - kh + 1, X.shape[1] - kw + 1
                Y = 0
                for a in range(kh):
                    for b in range(kw):
                        Y = Y + K[a, b] * X[a:a + h, b:b + w]
                return Y
            """),
    ],
    "Conv2D": [
        Variant("F.conv2d inside, bias created with randn", """
            class Conv2D(nn.Module):
                def __init__(self, kernel_size):
                    super().__init__()
                    self.weight = nn.Parameter(torch.randn(*kernel_size))
                    self.bias = nn.Parameter(torch.randn(1))

                def forward(self, x):
                    return F.conv2d(x[None, None], self.weight[None, None], self.bias)[0, 0]
            """),
    ],
    "pool2d": [
        Variant("vectorised with unfold and amax", """
            def pool2d(X, size, mode="max"):
                windows = X.unfold(0, size[0], 1).unfold(1, size[1], 1)
                if mode == "max":
                    return windows.amax(dim=(-2, -1))
                return windows.mean(dim=(-2, -1))
            """),
    ],
    "LeNet": [
        Variant("layers added one by one, forward through the children", """
            class LeNet(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.net = nn.Sequential()
                    layers = [nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2),
                              nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2), nn.Flatten(),
                              nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(),
                              nn.Linear(84, 10)]
                    for k, layer in enumerate(layers):
                        self.net.add_module(str(k), layer)

                def forward(self, x):
                    for layer in self.net:
                        x = layer(x)
                    return x
            """),
    ],
}
