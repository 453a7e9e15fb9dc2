"""Chapter 01 stand-ins: the forward pass, loss and backward pass of the two-layer net."""

import numpy as np


def forward(x, w1, w2):
    h = x @ w1
    h_relu = np.maximum(h, 0)
    return h, h_relu, h_relu @ w2


def sse_loss(y_pred, y):
    return float(np.square(y_pred - y).sum())


def backward(x, y, h, h_relu, y_pred, w2):
    grad_y_pred = 2.0 * (y_pred - y)
    grad_h = (grad_y_pred @ w2.T) * (h > 0)
    return x.T @ grad_h, h_relu.T @ grad_y_pred
