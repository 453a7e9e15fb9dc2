"""Chapter 08 stand-ins: while `fit` is graded, its calls to `make_train_step` reach this
one, so a mistake in the train step is not counted twice."""


def make_train_step(model, loss_fn, optimizer):
    def train_step(x, y):
        model.train()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss.item()
    return train_step
