"""Chapter 09 stand-ins: `loss_batch`, while `fit` is graded.

It does what the exercise asks of loss_batch, and records every call (the model's mode,
whether gradients are on, the optimizer given, the batch) in `loss_batch.log`, which the
fit harness reads: fit is judged on how it calls loss_batch, not on the learner's own.
"""

import torch


def loss_batch(model, loss_func, xb, yb, opt=None):
    loss_batch.log.append({"training": bool(model.training), "grad": torch.is_grad_enabled(),
                           "opt": opt, "xb": xb})
    loss = loss_func(model(xb), yb)
    if opt is not None and loss.requires_grad:   # under no_grad there is nothing to step on
        loss.backward()
        opt.step()
        opt.zero_grad()
    return loss.item(), len(xb)


loss_batch.log = []
