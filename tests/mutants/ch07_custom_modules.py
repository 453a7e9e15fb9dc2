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
            """, "apply the ReLU between the two layers", "value"),
        Variant("ReLU after the output layer", """
            class TwoLayerNet(nn.Module):
                def __init__(self, D_in, H, D_out):
                    super().__init__()
                    self.linear1 = nn.Linear(D_in, H)
                    self.linear2 = nn.Linear(H, D_out)

                def forward(self, x):
                    return torch.relu(self.linear2(torch.relu(self.linear1(x))))
            """, "the last layer has no activation", "value"),
        Variant("layers kept in a plain list", """
            class TwoLayerNet(nn.Module):
                def __init__(self, D_in, H, D_out):
                    super().__init__()
                    self.layers = [nn.Linear(D_in, H), nn.Linear(H, D_out)]

                def forward(self, x):
                    return self.layers[1](torch.relu(self.layers[0](x)))
            """, "no parameter named `linear1.weight`", "contract"),
        Variant("second layer without bias", """
            class TwoLayerNet(nn.Module):
                def __init__(self, D_in, H, D_out):
                    super().__init__()
                    self.linear1 = nn.Linear(D_in, H)
                    self.linear2 = nn.Linear(H, D_out, bias=False)

                def forward(self, x):
                    return self.linear2(torch.relu(self.linear1(x)))
            """, "no parameter named `linear2.bias`", "value"),
        Variant("ReLU as a maximum with zeros made on the CPU", """
            class TwoLayerNet(nn.Module):
                def __init__(self, D_in, H, D_out):
                    super().__init__()
                    self.linear1 = nn.Linear(D_in, H)
                    self.linear2 = nn.Linear(H, D_out)

                def forward(self, x):
                    h = self.linear1(x)
                    return self.linear2(torch.maximum(h, torch.zeros(h.shape)))
            """, "create new tensors on the input's device", "device"),
        Variant("an extra layer", """
            class TwoLayerNet(nn.Module):
                def __init__(self, D_in, H, D_out):
                    super().__init__()
                    self.linear1 = nn.Linear(D_in, H)
                    self.hidden = nn.Linear(H, H)
                    self.linear2 = nn.Linear(H, D_out)

                def forward(self, x):
                    return self.linear2(torch.relu(self.linear1(x)))
            """, "no extra layers or parameters", "contract"),
    ],
    "CenteredLayer": [
        Variant("centres each column", """
            class CenteredLayer(nn.Module):
                def __init__(self):
                    super().__init__()

                def forward(self, X):
                    return X - X.mean(dim=0)
            """, "each column was centred", "value"),
        Variant("detached mean", """
            class CenteredLayer(nn.Module):
                def __init__(self):
                    super().__init__()

                def forward(self, X):
                    return X - X.mean().item()
            """, "the gradient ignores the mean", "contract"),
        Variant("a learnable offset", """
            class CenteredLayer(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.offset = nn.Parameter(torch.zeros(1))

                def forward(self, X):
                    return X - X.mean() + self.offset
            """, "a centring layer has nothing to learn", "value"),
        Variant("standardises instead", """
            class CenteredLayer(nn.Module):
                def __init__(self):
                    super().__init__()

                def forward(self, X):
                    return (X - X.mean()) / X.std()
            """, "divided by the standard deviation", "value"),
        Variant("centres its input in place", """
            class CenteredLayer(nn.Module):
                def __init__(self):
                    super().__init__()

                def forward(self, X):
                    X -= X.mean()
                    return X
            """, "do not change the tensors you are given in place", "contract"),
        Variant("a tensor of means made on the CPU", """
            class CenteredLayer(nn.Module):
                def __init__(self):
                    super().__init__()

                def forward(self, X):
                    return X - X.mean() * torch.ones(X.shape)
            """, "create new tensors on the input's device", "device"),
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
            """, "nn.ParameterList", "contract"),
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
            """, "ReLU after the last layer", "value"),
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
            """, "transpose of the expected shape", "value"),
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
            """, "no ReLU was applied", "value"),
    ],
    "DictDense": [
        Variant("plain dict", """
            class DictDense(nn.Module):
                def __init__(self, D_in, heads):
                    super().__init__()
                    self.params = {name: nn.Parameter(torch.randn(D_in, d)) for name, d in heads.items()}

                def forward(self, x, choice):
                    return x @ self.params[choice]
            """, "nn.ParameterDict", "contract"),
        Variant("always the first head", """
            class DictDense(nn.Module):
                def __init__(self, D_in, heads):
                    super().__init__()
                    self.params = nn.ParameterDict(
                        {name: nn.Parameter(torch.randn(D_in, d)) for name, d in heads.items()})

                def forward(self, x, choice):
                    return x @ next(iter(self.params.values()))
            """, "return x @ self.params[choice]", "value"),
        Variant("heads as nn.Linear in a ModuleDict", """
            class DictDense(nn.Module):
                def __init__(self, D_in, heads):
                    super().__init__()
                    self.params = nn.ModuleDict({name: nn.Linear(D_in, d) for name, d in heads.items()})

                def forward(self, x, choice):
                    return self.params[choice](x)
            """, "no parameter named `params.", "value"),
        Variant("weights stored transposed", """
            class DictDense(nn.Module):
                def __init__(self, D_in, heads):
                    super().__init__()
                    self.params = nn.ParameterDict(
                        {name: nn.Parameter(torch.randn(d, D_in)) for name, d in heads.items()})

                def forward(self, x, choice):
                    return x @ self.params[choice].T
            """, "transpose of the expected shape", "value"),
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
            """, "run the middle layer exactly `depth` times", "value"),
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
            """, "the same layer on every use", "value"),
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
            """, "the sum over its uses", "contract"),
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
            """, "draw a new random depth on every call", "value"),
        Variant("depth drawn from 0, 1, 2 only", """
            class DynamicNet(nn.Module):
                def __init__(self, D_in, H, D_out):
                    super().__init__()
                    self.input_linear = nn.Linear(D_in, H)
                    self.middle_linear = nn.Linear(H, H)
                    self.output_linear = nn.Linear(H, D_out)

                def forward(self, x, depth=None):
                    h = torch.relu(self.input_linear(x))
                    if depth is None:
                        depth = int(torch.randint(0, 3, ()))
                    for _ in range(depth):
                        h = torch.relu(self.middle_linear(h))
                    return self.output_linear(h)
            """, "every depth 0, 1, 2 and 3 must be possible", "value"),
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
            """, "this is a convolution", "value"),
        Variant("one position too few", """
            def corr2d(X, K):
                kh, kw = K.shape
                Y = torch.zeros(X.shape[0] - kh, X.shape[1] - kw, dtype=X.dtype, device=X.device)
                for i in range(Y.shape[0]):
                    for j in range(Y.shape[1]):
                        Y[i, j] = (X[i:i + kh, j:j + kw] * K).sum()
                return Y
            """, "(h - kh + 1) x (w - kw + 1)", "value"),
        Variant("output in float32 whatever the input", """
            def corr2d(X, K):
                kh, kw = K.shape
                Y = torch.zeros((X.shape[0] - kh + 1, X.shape[1] - kw + 1), device=X.device)
                for i in range(Y.shape[0]):
                    for j in range(Y.shape[1]):
                        Y[i, j] = (X[i:i + kh, j:j + kw] * K).sum()
                return Y
            """, "keep the input's dtype", "value"),
        Variant("result made without device=", """
            def corr2d(X, K):
                kh, kw = K.shape
                Y = torch.zeros(X.shape[0] - kh + 1, X.shape[1] - kw + 1, dtype=X.dtype)
                for i in range(Y.shape[0]):
                    for j in range(Y.shape[1]):
                        Y[i, j] = (X[i:i + kh, j:j + kw] * K).sum()
                return Y
            """, "create new tensors on the input's device", "device"),
        Variant("F.conv2d", """
            def corr2d(X, K):
                return F.conv2d(X[None, None], K[None, None])[0, 0]
            """, "corr2d is written by hand", "rule"),
        Variant("F.conv2d under another name", """
            _slide = getattr(F, "conv" + "2d")

            def corr2d(X, K):
                return _slide(X.unsqueeze(0).unsqueeze(0), K.unsqueeze(0).unsqueeze(0)).squeeze(0).squeeze(0)
            """, "the checks watch the operations your code runs", "rule"),
        Variant("windows by Tensor.unfold", """
            def corr2d(X, K):
                kh, kw = K.shape
                windows = X.unfold(0, kh, 1).unfold(1, kw, 1)
                return (windows * K).sum(dim=(-2, -1))
            """, "corr2d is written by hand", "rule"),
        Variant("each window summed through float()", """
            def corr2d(X, K):
                kh, kw = K.shape
                Y = torch.zeros(X.shape[0] - kh + 1, X.shape[1] - kw + 1, dtype=X.dtype, device=X.device)
                for i in range(Y.shape[0]):
                    for j in range(Y.shape[1]):
                        Y[i, j] = float((X[i:i + kh, j:j + kw] * K).sum())
                return Y
            """, "keep every value a tensor in the graph", "contract"),
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
            """, "the bias is missing", "value"),
        Variant("weight as a plain tensor", """
            class Conv2D(nn.Module):
                def __init__(self, kernel_size):
                    super().__init__()
                    self.weight = torch.rand(kernel_size, requires_grad=True)
                    self.bias = nn.Parameter(torch.zeros(1))

                def forward(self, x):
                    return corr2d(x, self.weight) + self.bias
            """, "no parameter named `weight`", "contract"),
        Variant("kernel shape reversed", """
            class Conv2D(nn.Module):
                def __init__(self, kernel_size):
                    super().__init__()
                    self.weight = nn.Parameter(torch.rand(kernel_size[::-1]))
                    self.bias = nn.Parameter(torch.zeros(1))

                def forward(self, x):
                    return corr2d(x, self.weight) + self.bias
            """, "transpose of the expected shape", "value"),
        Variant("flipped kernel", """
            class Conv2D(nn.Module):
                def __init__(self, kernel_size):
                    super().__init__()
                    self.weight = nn.Parameter(torch.rand(kernel_size))
                    self.bias = nn.Parameter(torch.zeros(1))

                def forward(self, x):
                    return corr2d(x, self.weight.flip(0, 1)) + self.bias
            """, "the kernel is flipped", "value"),
        Variant("F.conv2d instead of corr2d", """
            class Conv2D(nn.Module):
                def __init__(self, kernel_size):
                    super().__init__()
                    self.weight = nn.Parameter(torch.randn(*kernel_size))
                    self.bias = nn.Parameter(torch.randn(1))

                def forward(self, x):
                    return F.conv2d(x[None, None], self.weight[None, None], self.bias)[0, 0]
            """, "Conv2D is written by hand", "rule"),
        Variant("nn.Conv2d through a helper method", """
            class Conv2D(nn.Module):
                def __init__(self, kernel_size):
                    super().__init__()
                    self.weight = nn.Parameter(torch.rand(kernel_size))
                    self.bias = nn.Parameter(torch.zeros(1))

                def slide(self, x):
                    layer = torch.nn.functional
                    return layer.__dict__["conv" + "2d"](x[None, None], self.weight[None, None])[0, 0]

                def forward(self, x):
                    return self.slide(x) + self.bias
            """, "the checks watch the operations your code runs", "rule"),
        Variant("corr2d called with its arguments swapped", """
            class Conv2D(nn.Module):
                def __init__(self, kernel_size):
                    super().__init__()
                    self.weight = nn.Parameter(torch.rand(kernel_size))
                    self.bias = nn.Parameter(torch.zeros(1))

                def forward(self, x):
                    return corr2d(self.weight, x) + self.bias
            """, "the input first, the kernel second", "dependency"),
        Variant("weight moved to the default device in __init__", """
            class Conv2D(nn.Module):
                def __init__(self, kernel_size):
                    super().__init__()
                    self.weight = nn.Parameter(torch.rand(kernel_size)).to(default_device())
                    self.bias = nn.Parameter(torch.zeros(1))

                def forward(self, x):
                    return corr2d(x, self.weight) + self.bias
            """, "keep layers and weights registered", "device"),
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
            """, "this is max pooling, but mode='avg'", "value"),
        Variant("stride equal to the window", """
            def pool2d(X, size, mode="max"):
                p_h, p_w = size
                Y = torch.zeros(X.shape[0] // p_h, X.shape[1] // p_w, dtype=X.dtype, device=X.device)
                for i in range(Y.shape[0]):
                    for j in range(Y.shape[1]):
                        w = X[i * p_h:(i + 1) * p_h, j * p_w:(j + 1) * p_w]
                        Y[i, j] = w.max() if mode == "max" else w.mean()
                return Y
            """, "stride 1", "value"),
        Variant("average pooling sums", """
            def pool2d(X, size, mode="max"):
                p_h, p_w = size
                Y = torch.zeros(X.shape[0] - p_h + 1, X.shape[1] - p_w + 1, dtype=X.dtype, device=X.device)
                for i in range(Y.shape[0]):
                    for j in range(Y.shape[1]):
                        w = X[i:i + p_h, j:j + p_w]
                        Y[i, j] = w.max() if mode == "max" else w.sum()
                return Y
            """, "divides the sum by p_h * p_w", "value"),
        Variant("window sizes swapped", """
            def pool2d(X, size, mode="max"):
                p_w, p_h = size
                Y = torch.zeros(X.shape[0] - p_h + 1, X.shape[1] - p_w + 1, dtype=X.dtype, device=X.device)
                for i in range(Y.shape[0]):
                    for j in range(Y.shape[1]):
                        w = X[i:i + p_h, j:j + p_w]
                        Y[i, j] = w.max() if mode == "max" else w.mean()
                return Y
            """, "the window's sizes are swapped", "value"),
        Variant("average as the default mode", """
            def pool2d(X, size, mode="avg"):
                p_h, p_w = size
                Y = torch.zeros(X.shape[0] - p_h + 1, X.shape[1] - p_w + 1, dtype=X.dtype, device=X.device)
                for i in range(Y.shape[0]):
                    for j in range(Y.shape[1]):
                        w = X[i:i + p_h, j:j + p_w]
                        Y[i, j] = w.max() if mode == "max" else w.mean()
                return Y
            """, "max is the default", "contract"),
        Variant("F.max_pool2d and F.avg_pool2d", """
            def pool2d(X, size, mode="max"):
                pool = F.max_pool2d if mode == "max" else F.avg_pool2d
                return pool(X[None, None], size, stride=1)[0, 0]
            """, "pool2d is written by hand", "rule"),
        Variant("result made without device=", """
            def pool2d(X, size, mode="max"):
                p_h, p_w = size
                Y = torch.zeros(X.shape[0] - p_h + 1, X.shape[1] - p_w + 1, dtype=X.dtype)
                for i in range(Y.shape[0]):
                    for j in range(Y.shape[1]):
                        w = X[i:i + p_h, j:j + p_w]
                        Y[i, j] = w.max() if mode == "max" else w.mean()
                return Y
            """, "create new tensors on the input's device", "device"),
        Variant("windows' values through .item()", """
            def pool2d(X, size, mode="max"):
                p_h, p_w = size
                Y = torch.zeros(X.shape[0] - p_h + 1, X.shape[1] - p_w + 1, dtype=X.dtype, device=X.device)
                for i in range(Y.shape[0]):
                    for j in range(Y.shape[1]):
                        w = X[i:i + p_h, j:j + p_w]
                        Y[i, j] = (w.max() if mode == "max" else w.mean()).item()
                return Y
            """, "keep every value a tensor in the graph", "contract"),
    ],
    "Normalize": [
        Variant("unbiased variance", """
            class Normalize(nn.Module):
                def __init__(self, num_features, dim, eps=1e-5):
                    super().__init__()
                    self.dim, self.eps = dim, eps
                    self.weight = nn.Parameter(torch.ones(num_features))
                    self.bias = nn.Parameter(torch.zeros(num_features))

                def forward(self, X):
                    mean = X.mean(dim=self.dim, keepdim=True)
                    var = X.var(dim=self.dim, keepdim=True)
                    return self.weight * (X - mean) / torch.sqrt(var + self.eps) + self.bias
            """, "unbiased standard deviation", "value"),
        Variant("eps added to the standard deviation", """
            class Normalize(nn.Module):
                def __init__(self, num_features, dim, eps=1e-5):
                    super().__init__()
                    self.dim, self.eps = dim, eps
                    self.weight = nn.Parameter(torch.ones(num_features))
                    self.bias = nn.Parameter(torch.zeros(num_features))

                def forward(self, X):
                    mean = X.mean(dim=self.dim, keepdim=True)
                    std = X.std(dim=self.dim, unbiased=False, keepdim=True)
                    return self.weight * (X - mean) / (std + self.eps) + self.bias
            """, "add it to the variance", "value"),
        Variant("statistics always over the features", """
            class Normalize(nn.Module):
                def __init__(self, num_features, dim, eps=1e-5):
                    super().__init__()
                    self.eps = eps
                    self.weight = nn.Parameter(torch.ones(num_features))
                    self.bias = nn.Parameter(torch.zeros(num_features))

                def forward(self, X):
                    mean = X.mean(dim=1, keepdim=True)
                    var = X.var(dim=1, unbiased=False, keepdim=True)
                    return self.weight * (X - mean) / torch.sqrt(var + self.eps) + self.bias
            """, "the statistics were taken over dim 1", "value"),
        Variant("scale and shift named gamma and beta", """
            class Normalize(nn.Module):
                def __init__(self, num_features, dim, eps=1e-5):
                    super().__init__()
                    self.dim, self.eps = dim, eps
                    self.gamma = nn.Parameter(torch.ones(num_features))
                    self.beta = nn.Parameter(torch.zeros(num_features))

                def forward(self, X):
                    mean = X.mean(dim=self.dim, keepdim=True)
                    var = X.var(dim=self.dim, unbiased=False, keepdim=True)
                    return self.gamma * (X - mean) / torch.sqrt(var + self.eps) + self.beta
            """, "no parameter named `weight`", "contract"),
        Variant("random initial scale", """
            class Normalize(nn.Module):
                def __init__(self, num_features, dim, eps=1e-5):
                    super().__init__()
                    self.dim, self.eps = dim, eps
                    self.weight = nn.Parameter(torch.rand(num_features))
                    self.bias = nn.Parameter(torch.zeros(num_features))

                def forward(self, X):
                    mean = X.mean(dim=self.dim, keepdim=True)
                    var = X.var(dim=self.dim, unbiased=False, keepdim=True)
                    return self.weight * (X - mean) / torch.sqrt(var + self.eps) + self.bias
            """, "starts at ones", "value"),
        Variant("PyTorch's own normalisations", """
            class Normalize(nn.Module):
                def __init__(self, num_features, dim, eps=1e-5):
                    super().__init__()
                    self.dim, self.eps = dim, eps
                    self.weight = nn.Parameter(torch.ones(num_features))
                    self.bias = nn.Parameter(torch.zeros(num_features))

                def forward(self, X):
                    if self.dim == 1:
                        return F.layer_norm(X, X.shape[1:], self.weight, self.bias, self.eps)
                    return F.batch_norm(X, None, None, self.weight, self.bias, True, 0.0, self.eps)
            """, "Normalize is written by hand", "rule"),
        Variant("centres its input in place", """
            class Normalize(nn.Module):
                def __init__(self, num_features, dim, eps=1e-5):
                    super().__init__()
                    self.dim, self.eps = dim, eps
                    self.weight = nn.Parameter(torch.ones(num_features))
                    self.bias = nn.Parameter(torch.zeros(num_features))

                def forward(self, X):
                    X -= X.mean(dim=self.dim, keepdim=True)
                    var = (X ** 2).mean(dim=self.dim, keepdim=True)
                    return self.weight * X / torch.sqrt(var + self.eps) + self.bias
            """, "work on a copy", "contract"),
        Variant("eps as a tensor made on the CPU", """
            class Normalize(nn.Module):
                def __init__(self, num_features, dim, eps=1e-5):
                    super().__init__()
                    self.dim, self.eps = dim, eps
                    self.weight = nn.Parameter(torch.ones(num_features))
                    self.bias = nn.Parameter(torch.zeros(num_features))

                def forward(self, X):
                    mean = X.mean(dim=self.dim, keepdim=True)
                    var = ((X - mean) ** 2).mean(dim=self.dim, keepdim=True)
                    eps = torch.full(var.shape, self.eps)
                    return self.weight * (X - mean) / torch.sqrt(var + eps) + self.bias
            """, "create new tensors on the input's device", "device"),
    ],
    "LeNet": [
        Variant("no padding in the first convolution", """
            class LeNet(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.block1 = nn.Sequential(nn.Conv2d(1, 6, 5), nn.Sigmoid(), nn.AvgPool2d(2))
                    self.block2 = nn.Sequential(nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2))
                    self.head = nn.Sequential(nn.Flatten(), nn.Linear(256, 120), nn.Sigmoid(),
                                              nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))

                def forward(self, x):
                    return self.head(self.block2(self.block1(x)))
            """, "a k x k convolution with padding p", "value"),
        Variant("sigmoid after the last layer", """
            class LeNet(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.block1 = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2))
                    self.block2 = nn.Sequential(nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2))
                    self.head = nn.Sequential(nn.Flatten(), nn.Linear(400, 120), nn.Sigmoid(),
                                              nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10),
                                              nn.Sigmoid())

                def forward(self, x):
                    return self.head(self.block2(self.block1(x)))
            """, "no activation after Linear(84, 10)", "value"),
        Variant("no activation in the second block", """
            class LeNet(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.block1 = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2))
                    self.block2 = nn.Sequential(nn.Conv2d(6, 16, 5), nn.MaxPool2d(2))
                    self.head = nn.Sequential(nn.Flatten(), nn.Linear(400, 120), nn.ReLU(),
                                              nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))

                def forward(self, x):
                    return self.head(self.block2(self.block1(x)))
            """, "each block applies an activation", "rule"),
        Variant("a strided convolution instead of pooling", """
            class LeNet(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.block1 = nn.Sequential(nn.Conv2d(1, 6, 4, stride=2, padding=1), nn.ReLU())
                    self.block2 = nn.Sequential(nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
                    self.head = nn.Sequential(nn.Flatten(), nn.Linear(400, 120), nn.ReLU(),
                                              nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))

                def forward(self, x):
                    return self.head(self.block2(self.block1(x)))
            """, "each block ends with a 2 x 2 pooling", "rule"),
        Variant("the head's layers in a plain list", """
            class LeNet(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.block1 = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2))
                    self.block2 = nn.Sequential(nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2))
                    self.layers = [nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)]
                    self.head = nn.Flatten()

                def forward(self, x):
                    h = self.head(self.block2(self.block1(x)))
                    h = torch.sigmoid(self.layers[0](h))
                    h = torch.sigmoid(self.layers[1](h))
                    return self.layers[2](h)
            """, "the head holds exactly three linear layers, registered", "contract"),
        Variant("features detached before the head", """
            class LeNet(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.block1 = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2))
                    self.block2 = nn.Sequential(nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2))
                    self.head = nn.Sequential(nn.Flatten(), nn.Linear(400, 120), nn.Sigmoid(),
                                              nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))

                def forward(self, x):
                    return self.head(self.block2(self.block1(x)).detach())
            """, "every parameter must take part in forward", "contract"),
        Variant("kernels kept as plain tensors", """
            class Block(nn.Module):
                def __init__(self, c_in, c_out, padding):
                    super().__init__()
                    self.kernel = torch.randn(c_out, c_in, 5, 5) * 0.1
                    self.shift = torch.zeros(c_out)
                    self.padding = padding

                def forward(self, x):
                    return F.avg_pool2d(torch.sigmoid(F.conv2d(x, self.kernel, self.shift, padding=self.padding)), 2)

            class LeNet(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.block1 = Block(1, 6, 2)
                    self.block2 = Block(6, 16, 0)
                    self.head = nn.Sequential(nn.Flatten(), nn.Linear(400, 120), nn.Sigmoid(),
                                              nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))

                def forward(self, x):
                    return self.head(self.block2(self.block1(x)))
            """, "keep it registered", "device"),
    ],
}

ALTERNATIVES = {
    "TwoLayerNet": [
        Variant("an nn.ReLU attribute, super(Class, self)", """
            class TwoLayerNet(nn.Module):
                def __init__(self, D_in, H, D_out):
                    super(TwoLayerNet, self).__init__()
                    self.linear1 = nn.Linear(D_in, H)
                    self.act = nn.ReLU()
                    self.linear2 = nn.Linear(H, D_out)

                def forward(self, x):
                    return self.linear2(self.act(self.linear1(x)))
            """),
        Variant("F.relu through a helper of my own", """
            def _hidden(layer, x):
                return F.relu(layer(x))

            class TwoLayerNet(nn.Module):
                def __init__(self, D_in, H, D_out):
                    super().__init__()
                    self.linear1 = nn.Linear(D_in, H)
                    self.linear2 = nn.Linear(H, D_out)

                def forward(self, x):
                    return self.linear2(_hidden(self.linear1, x))
            """),
    ],
    "CenteredLayer": [
        Variant("sum divided by the count", """
            class CenteredLayer(nn.Module):
                def forward(self, X):
                    return X - X.sum() / X.numel()
            """),
        Variant("torch.mean and sub", """
            class CenteredLayer(nn.Module):
                def __init__(self):
                    super(CenteredLayer, self).__init__()

                def forward(self, X):
                    return torch.sub(X, torch.mean(X))
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
        Variant("kaiming init on empty tensors, clamp, torch.matmul", """
            class ListDense(nn.Module):
                def __init__(self, sizes):
                    super().__init__()
                    weights = []
                    for a, b in zip(sizes, sizes[1:]):
                        w = torch.empty(a, b)
                        nn.init.kaiming_uniform_(w)
                        weights.append(nn.Parameter(w))
                    self.params = nn.ParameterList(weights)

                def forward(self, x):
                    *hidden, last = self.params
                    for W in hidden:
                        x = torch.matmul(x, W).clamp(min=0)
                    return torch.matmul(x, last)
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
        Variant("einsum, scaled randn", """
            class DictDense(nn.Module):
                def __init__(self, D_in, heads):
                    super().__init__()
                    self.params = nn.ParameterDict(
                        {k: nn.Parameter(torch.randn(D_in, v) / D_in ** 0.5) for k, v in heads.items()})

                def forward(self, x, choice):
                    W = self.params[choice]
                    return torch.einsum("nd,dk->nk", x, W)
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
        Variant("numpy's generator, random.choice", """
            import numpy as np

            class DynamicNet(nn.Module):
                def __init__(self, D_in, H, D_out):
                    super().__init__()
                    self.input_linear = nn.Linear(D_in, H)
                    self.middle_linear = nn.Linear(H, H)
                    self.output_linear = nn.Linear(H, D_out)

                def forward(self, x, depth=None):
                    if depth is None:
                        depth = random.choice([0, 1, 2, 3]) if np.random.rand() < 0.5 else np.random.randint(4)
                    h = self.input_linear(x).clamp(min=0)
                    for _ in range(depth):
                        h = self.middle_linear(h).clamp(min=0)
                    return self.output_linear(h)
            """),
    ],
    "corr2d": [
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
        Variant("rows of window sums stacked", """
            def _row(X, K, i, width):
                kh, kw = K.shape
                return torch.stack([torch.sum(X[i:i + kh, j:j + kw] * K) for j in range(width)])

            def corr2d(X, K):
                h, w = X.shape[0] - K.shape[0] + 1, X.shape[1] - K.shape[1] + 1
                return torch.stack([_row(X, K, i, w) for i in range(h)])
            """),
        Variant("float64 inside, new_zeros", """
            def corr2d(X, K):
                kh, kw = K.shape
                Xd, Kd = X.double(), K.double()
                Y = Xd.new_zeros((X.shape[0] - kh + 1, X.shape[1] - kw + 1))
                for i in range(Y.shape[0]):
                    for j in range(Y.shape[1]):
                        Y[i, j] = torch.einsum("ab,ab->", Xd[i:i + kh, j:j + kw], Kd)
                return Y.to(X.dtype)
            """),
    ],
    "Conv2D": [
        Variant("randn weight, torch.add, corr2d through an alias", """
            class Conv2D(nn.Module):
                def __init__(self, kernel_size):
                    super().__init__()
                    self.weight = nn.Parameter(torch.randn(*kernel_size))
                    self.bias = nn.Parameter(torch.randn(1))

                def forward(self, x):
                    slide = corr2d
                    return torch.add(slide(x, self.weight), self.bias)
            """),
        Variant("register_parameter, helper method", """
            class Conv2D(nn.Module):
                def __init__(self, kernel_size):
                    super().__init__()
                    self.register_parameter("weight", nn.Parameter(torch.rand(kernel_size) - 0.5))
                    self.register_parameter("bias", nn.Parameter(torch.zeros(1)))

                def correlate(self, x):
                    return corr2d(x, self.weight)

                def forward(self, x):
                    return self.correlate(x) + self.bias
            """),
    ],
    "pool2d": [
        Variant("shifted slices stacked, amax and mean", """
            def pool2d(X, size, mode="max"):
                p_h, p_w = size
                h, w = X.shape[0] - p_h + 1, X.shape[1] - p_w + 1
                shifts = torch.stack([X[a:a + h, b:b + w] for a in range(p_h) for b in range(p_w)])
                return shifts.amax(dim=0) if mode == "max" else shifts.mean(dim=0)
            """),
        Variant("torch.max over each flattened window, empty_like", """
            def pool2d(X, size, mode="max"):
                p_h, p_w = size
                Y = torch.empty(X.shape[0] - p_h + 1, X.shape[1] - p_w + 1).to(X)
                for i in range(Y.shape[0]):
                    for j in range(Y.shape[1]):
                        window = X[i:i + p_h, j:j + p_w].reshape(-1)
                        Y[i, j] = torch.max(window) if mode == "max" else window.sum() / window.numel()
                return Y
            """),
    ],
    "Normalize": [
        Variant("statistics by hand, no keepdim", """
            class Normalize(nn.Module):
                def __init__(self, num_features, dim, eps=1e-5):
                    super().__init__()
                    self.dim = dim
                    self.eps = eps
                    self.weight = nn.Parameter(torch.ones(num_features))
                    self.bias = nn.Parameter(torch.zeros(num_features))

                def forward(self, X):
                    n = X.shape[self.dim]
                    mean = (X.sum(dim=self.dim) / n).unsqueeze(self.dim)
                    var = (((X - mean) ** 2).sum(dim=self.dim) / n).unsqueeze(self.dim)
                    return (X - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias
            """),
        Variant("torch.var_mean with correction=0, float64 inside", """
            class Normalize(nn.Module):
                def __init__(self, num_features, dim, eps=1e-5):
                    super().__init__()
                    self.settings = (dim, eps)
                    self.weight = nn.Parameter(torch.ones(num_features))
                    self.bias = nn.Parameter(torch.full((num_features,), 0.0))

                def forward(self, X):
                    dim, eps = self.settings
                    Xd = X.double()
                    var, mean = torch.var_mean(Xd, dim=dim, correction=0, keepdim=True)
                    z = ((Xd - mean) / (var + eps).sqrt()).to(X.dtype)
                    return torch.addcmul(self.bias, z, self.weight)
            """),
    ],
    "LeNet": [
        Variant("ReLU, max pooling, 3 x 3 then 5 x 5 kernels", """
            class LeNet(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.block1 = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
                    self.block2 = nn.Sequential(nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2))
                    self.head = nn.Sequential(nn.Flatten(), nn.Linear(400, 120), nn.ReLU(),
                                              nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))

                def forward(self, x):
                    return self.head(self.block2(self.block1(x)))
            """),
        Variant("modules of my own with F.* in forward, tanh, a 4 x 4 kernel", """
            class Block(nn.Module):
                def __init__(self, c_in, c_out, k, padding):
                    super().__init__()
                    self.conv = nn.Conv2d(c_in, c_out, k, padding=padding)

                def forward(self, x):
                    return F.avg_pool2d(torch.tanh(self.conv(x)), kernel_size=2, stride=2)

            class Head(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.ModuleList([nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)])

                def forward(self, x):
                    x = x.flatten(1)
                    for layer in self.fc[:-1]:
                        x = torch.tanh(layer(x))
                    return self.fc[-1](x)

            class LeNet(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.block1 = Block(1, 6, 5, 2)
                    self.block2 = Block(6, 16, 4, 0)
                    self.head = Head()

                def forward(self, x):
                    h = self.block1(x)
                    h = self.block2(h)
                    return self.head(h)
            """),
        Variant("weights of my own as nn.Parameter, F.conv2d, leaky ReLU", """
            class ConvBlock(nn.Module):
                def __init__(self, c_in, c_out, padding):
                    super().__init__()
                    self.weight = nn.Parameter(torch.randn(c_out, c_in, 5, 5) / (5 * c_in ** 0.5))
                    self.bias = nn.Parameter(torch.zeros(c_out))
                    self.padding = padding

                def forward(self, x):
                    x = F.conv2d(x, self.weight, self.bias, padding=self.padding)
                    return F.max_pool2d(F.leaky_relu(x, 0.1), 2)

            class LeNet(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.block1 = ConvBlock(1, 6, 2)
                    self.block2 = ConvBlock(6, 16, 0)
                    self.head = nn.Sequential(nn.Flatten(), nn.Linear(400, 120), nn.GELU(),
                                              nn.Linear(120, 84), nn.SiLU(), nn.Linear(84, 10))

                def forward(self, x):
                    return self.head(self.block2(self.block1(x)))
            """),
    ],
}
