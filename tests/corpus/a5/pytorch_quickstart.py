"""Corpus: the PyTorch Quickstart's train loop and epoch loop, as the fit of an A5 submission.

Source: pytorch/tutorials, beginner_source/basics/quickstart_tutorial.py: train(dataloader, model, loss_fn,
optimizer) (size = len(dataloader.dataset), model.train(), X, y = X.to(device), y.to(device), logging every 100
batches) and ``for t in range(epochs)``.
Adapted: the batch step (forward, loss, backward, step, zero_grad) is the statement's l2_training_step; flips and
crops drawn from the seeded generator that also shuffles the DataLoader; the mean loss over the examples is
returned; after each epoch the statement's accuracy(...) and EarlyStopping replace test().
The other functions: the reference solution's.
"""
import copy

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# Per-channel mean and standard deviation of the CIFAR-10 training images in [0, 1] (as in A4).
MEAN = (0.4913, 0.4821, 0.4465)
STD = (0.2452, 0.2428, 0.2606)

# Layers whose ``weight`` parameter is a weight in the sense of the L2 penalty.
WEIGHT_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


# Task 5.1: the weights of a model (weight_parameters)
def weight_parameters(model):
    """The weights of ``model``: the ``weight`` tensor of each Conv1d/2d/3d and Linear layer.

    Biases and the parameters of other layers (BatchNorm's scale and shift,
    for example) are not included.

    Args:
        model: an ``nn.Module``.

    Returns:
        A list of ``nn.Parameter``, in the order of ``model.modules()``, each
        parameter once.
    """
    found = []
    for module in model.modules():
        if isinstance(module, WEIGHT_LAYERS) and module.weight is not None:
            if not any(module.weight is seen for seen in found):
                found.append(module.weight)
    return found


# Task 5.1: the L2 penalty (l2_penalty)
def l2_penalty(model, lam):
    """``lam * sum w^2`` over the weights of ``model`` (see ``weight_parameters``), biases excluded.

    Args:
        model: an ``nn.Module``.
        lam: the regularization strength lambda (a float >= 0).

    Returns:
        A scalar tensor (shape ``()``), differentiable: its gradient with
        respect to a weight ``w`` is ``2 * lam * w``, and 0 for every other
        parameter.
    """
    weights = weight_parameters(model)
    if not weights:
        return torch.zeros(())
    return lam * sum((w ** 2).sum() for w in weights)


# Task 5.2: one training step with the explicit penalty (l2_training_step)
def l2_training_step(model, xb, yb, optimizer, lam):
    """One step on the penalized loss: zero_grad, forward, cross-entropy + ``l2_penalty(model, lam)``,
    backward, step.

    Args:
        model: the network (in training mode, on the device of ``xb``).
        xb: a batch of inputs; yb: int64 labels (N,).
        optimizer: a ``torch.optim`` optimizer without weight decay of its own.
        lam: lambda of the penalty.

    Returns:
        The cross-entropy of the batch before the step (a float, the data term only).
    """
    optimizer.zero_grad()
    data_loss = F.cross_entropy(model(xb), yb)
    (data_loss + l2_penalty(model, lam)).backward()
    optimizer.step()
    return data_loss.item()


# Task 5.2: the same regularization inside SGD (sgd_with_weight_decay)
def sgd_with_weight_decay(model, lr, lam, momentum=0.0):
    """``torch.optim.SGD`` that applies the L2 penalty ``lam * sum w^2`` through ``weight_decay``.

    The gradient of ``lam * w^2`` is ``2 * lam * w``, so the weights go in a
    parameter group with ``weight_decay = 2 * lam`` and every other parameter
    (biases...) in a group with ``weight_decay = 0``. Steps on the plain
    cross-entropy with this optimizer equal, step by step, steps of
    ``l2_training_step`` with a plain SGD (same lr and momentum).

    Returns:
        A ``torch.optim.SGD`` with two parameter groups (weights first), each
        parameter of the model in exactly one group.
    """
    weights = weight_parameters(model)
    others = [p for p in model.parameters() if not any(p is w for w in weights)]
    return torch.optim.SGD([{"params": weights, "weight_decay": 2 * lam},
                            {"params": others, "weight_decay": 0.0}], lr=lr, momentum=momentum)


# Task 5.3: inverted dropout (dropout)
def dropout(x, p, training=True, generator=None):
    """Inverted dropout: in training, each element is zeroed with probability ``p`` and the kept
    ones are scaled by ``1 / (1 - p)``, so the expected value of every element is unchanged;
    outside training it is the identity.

    Args:
        x: a float tensor of any shape.
        p: drop probability, 0 <= p < 1.
        training: False (evaluation) returns ``x`` unchanged.
        generator: the ``torch.Generator`` drawing the mask (None: torch's global one).

    Returns:
        A tensor shaped like ``x``. Each element is kept independently with
        probability ``1 - p``.

    Raises:
        ValueError: if ``p`` is not in [0, 1).
    """
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability p must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    keep = torch.rand(x.shape, generator=generator, device="cpu").to(x.device) >= p
    return x * keep / (1 - p)


class Dropout(nn.Module):
    """Inverted dropout as a layer: ``dropout(x, p, self.training, generator)``.

    ``model.train()`` / ``model.eval()`` switch it on and off like ``nn.Dropout``.
    """

    def __init__(self, p=0.5, generator=None):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability p must be in [0, 1), got {p}")
        self.p, self.generator = p, generator

    def forward(self, x):
        return dropout(x, self.p, self.training, self.generator)

    def extra_repr(self):
        return f"p={self.p}"


# Task 5.4: early stopping with patience (EarlyStopping)
class EarlyStopping:
    """Stop training when the validation metric has not improved for ``patience`` epochs in a row,
    and give back the weights of the best epoch.

    Call ``step(metric, model)`` once per epoch, after evaluating on the
    validation set. An epoch improves when its metric is better than the best
    so far by more than ``min_delta`` (higher for ``mode="max"``, accuracy;
    lower for ``mode="min"``, loss); the first epoch always improves.

    Attributes:
        best: the best metric so far (None before the first step).
        best_epoch: index (0, 1, ...) of the step that gave ``best``.
        bad_epochs: epochs in a row without improvement.
        epoch: index of the last step (-1 before the first).
        best_state: a copy of the best weights (a ``state_dict`` whose tensors
            do not change when the model keeps training), None before the first step.
    """

    def __init__(self, patience, mode="max", min_delta=0.0):
        if patience < 1 or mode not in ("max", "min"):
            raise ValueError("patience must be >= 1 and mode 'max' or 'min'")
        self.patience, self.mode, self.min_delta = patience, mode, min_delta
        self.best, self.best_epoch, self.bad_epochs = None, None, 0
        self.epoch = -1
        self.best_state = None

    def step(self, metric, model):
        """Record this epoch's ``metric``; keep a copy of ``model``'s weights if it is the best so far.

        Returns:
            True when ``patience`` epochs in a row have not improved; the model
            then holds the best weights again (as after ``restore``). False otherwise.
        """
        self.epoch += 1
        metric = float(metric)
        if self.best is None:
            improved = True
        elif self.mode == "max":
            improved = metric > self.best + self.min_delta
        else:
            improved = metric < self.best - self.min_delta
        if improved:
            self.best, self.best_epoch, self.bad_epochs = metric, self.epoch, 0
            self.best_state = copy.deepcopy(model.state_dict())
            return False
        self.bad_epochs += 1
        if self.bad_epochs >= self.patience:
            self.restore(model)
            return True
        return False

    def restore(self, model):
        """Load the best weights seen so far into ``model`` (nothing before the first step)."""
        if self.best_state is not None:
            model.load_state_dict(self.best_state)


# Task 5.5: random horizontal flip (random_horizontal_flip)
def random_horizontal_flip(x, generator, p=0.5):
    """Mirror each image of the batch left-right, independently, with probability ``p``.

    Args:
        x: float tensor (N, C, H, W); not modified.
        generator: ``torch.Generator`` (CPU) deciding which images are flipped.
        p: probability of flipping each image.

    Returns:
        A new tensor (N, C, H, W): image i is ``x[i]`` or ``x[i].flip(-1)``.
    """
    flip = (torch.rand(x.shape[0], generator=generator) < p).to(x.device)
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)


# Task 5.5: random crop with zero padding (random_crop)
def random_crop(x, generator, padding=4):
    """Pad each image with ``padding`` zeros on every side, then cut an H x W window at a random
    position, independently for each image (CIFAR-10's classic 32x32 crop of the 40x40 padded image).

    Zero is the mean colour of normalized images. The window's top-left
    corner (dy, dx) in the padded image is uniform over 0..2*padding in each
    direction, so the image moves by up to ``padding`` pixels.

    Args:
        x: float tensor (N, C, H, W); not modified.
        generator: ``torch.Generator`` (CPU) drawing the positions.
        padding: int >= 0.

    Returns:
        A new tensor (N, C, H, W).

    Raises:
        ValueError: if ``padding`` is negative.
    """
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    n, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    corners = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator).tolist()
    return torch.stack([padded[i, :, dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(corners)])


# Provided (as in A4, not graded): tensors, the network, accuracy.
def to_tensors(images, labels):
    """uint8 images (N, 32, 32, 3) -> normalized float32 (N, 3, 32, 32); labels -> int64 (N,)."""
    scaled = np.asarray(images, dtype=np.float32) / 255.0
    normalized = (scaled - np.array(MEAN, dtype=np.float32)) / np.array(STD, dtype=np.float32)
    return (torch.from_numpy(np.ascontiguousarray(normalized.transpose(0, 3, 1, 2))),
            torch.from_numpy(np.asarray(labels).astype(np.int64)))


def build_lenet(dropout=0.0):
    """The LeNet-style CNN of A4 (62,006 parameters), with a ``Dropout(dropout)`` of this module
    before each fully connected layer when ``dropout > 0``."""
    layers = [nn.Conv2d(3, 6, kernel_size=5), nn.ReLU(), nn.MaxPool2d(kernel_size=2),
              nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(kernel_size=2), nn.Flatten()]
    for n_in, n_out in ((400, 120), (120, 84), (84, 10)):
        if dropout > 0:
            layers.append(Dropout(dropout))
        layers.append(nn.Linear(n_in, n_out))
        if n_out != 10:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def accuracy(model, x, y, device="cpu", batch_size=1000):
    """Fraction of (x, y) that ``model`` classifies correctly, in eval mode and without a graph."""
    model.train(False)  # evaluation mode: dropout off
    hits = 0
    with torch.inference_mode():
        for i in range(0, len(y), batch_size):
            predicted = model(x[i:i + batch_size].to(device)).argmax(dim=1).cpu()
            hits += int((predicted == y[i:i + batch_size]).sum())
    return hits / len(y)


# Task 5.6: the overfitting experiment, with the loops of the PyTorch Quickstart
def train(dataloader, model, optimizer, lam, generator, augment, device):
    size = len(dataloader.dataset)
    model.train()
    total = 0.0  # adapter: the statement's mean loss over the examples
    for batch, (X, y) in enumerate(dataloader):
        if augment:  # adapter: the statement's flips and crops
            X = random_crop(random_horizontal_flip(X, generator), generator, padding=4)
        X, y = X.to(device), y.to(device)

        # Compute prediction error, backpropagation: the statement's l2_training_step (adapter)
        loss = l2_training_step(model, X, y, optimizer, lam)
        total += loss * len(X)  # adapter

        if batch % 100 == 0:
            current = (batch + 1) * len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")
    return total / size  # adapter


def fit(train_images, train_labels, val_images, val_labels, *, epochs, lr, batch_size=64, l2=0.0,
        dropout=0.0, augment=False, patience=None, device="cpu", seed=0, on_epoch=None):
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = build_lenet(dropout).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    x_train, y_train = to_tensors(train_images, train_labels)
    x_val, y_val = to_tensors(val_images, val_labels)
    train_dataloader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_train, y_train),
                                                   batch_size=batch_size, shuffle=True, generator=generator)
    stopper = EarlyStopping(patience) if patience is not None else None
    history = {"train_loss": [], "train_accuracy": [], "val_accuracy": []}
    for t in range(epochs):
        print(f"Epoch {t+1}\n-------------------------------")
        history["train_loss"].append(train(train_dataloader, model, optimizer, l2, generator, augment, device))
        history["train_accuracy"].append(accuracy(model, x_train, y_train, device))
        history["val_accuracy"].append(accuracy(model, x_val, y_val, device))
        stop = stopper is not None and stopper.step(history["val_accuracy"][-1], model)
        if on_epoch is not None:
            on_epoch(t, history)
        if stop:
            break
    print("Done!")
    if stopper is not None:
        stopper.restore(model)
    return model, history
