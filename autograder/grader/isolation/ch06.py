"""Chapter 06 stand-ins: the notebook's locked training loop of one epoch, so that
`resume_training` is graded on its checkpointing alone."""

import torch.nn.functional as F


def train_one_epoch(model, optimizer, batches):
    """One pass over `batches` (a list of (x, y)); returns the loss of each step."""
    losses = []
    for x_b, y_b in batches:
        optimizer.zero_grad()
        loss = F.mse_loss(model(x_b), y_b)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
