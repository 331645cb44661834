"""A4 - Training a CNN on CIFAR-10 / Entrenar una CNN en CIFAR-10.

The LeNet-style network of the PUC deck, trained with a loop written by hand:
zero the gradients, forward, loss, backward, step; evaluation in eval mode
without building a graph; everything on the device the caller asks for.

Shapes: images arrive as uint8 arrays (N, 32, 32, 3) in [0, 255] and labels
as (N,) ints in 0..9 (airplane, automobile, bird, cat, deer, dog, frog,
horse, ship, truck); the network takes float tensors (N, 3, 32, 32).
"""
import numpy as np
import torch
import torch.nn as nn

# Per-channel mean and standard deviation of the CIFAR-10 training images in [0, 1].
MEAN = (0.4913, 0.4821, 0.4465)
STD = (0.2452, 0.2428, 0.2606)


# Task 4.1: the LeNet-style CNN of the PUC deck (build_lenet)
def build_lenet(dropout=0.0):
    """conv 3->6 k5, ReLU, max-pool 2, conv 6->16 k5, ReLU, max-pool 2, flatten,
    FC 400->120, ReLU, FC 120->84, ReLU, FC 84->10 (62,006 parameters).

    Args:
        dropout: if > 0, an ``nn.Dropout(dropout)`` before each of the three
            fully connected layers (no extra parameters).

    Returns:
        An ``nn.Sequential`` mapping (N, 3, 32, 32) to logits (N, 10).
    """
    ### BEGIN SOLUTION
    def drop():
        return [nn.Dropout(dropout)] if dropout > 0 else []

    return nn.Sequential(
        nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        *drop(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        *drop(), nn.Linear(120, 84), nn.ReLU(),
        *drop(), nn.Linear(84, 10),
    )
    ### END SOLUTION


# Task 4.2: input normalization (to_tensors)
def to_tensors(images, labels):
    """Images to normalized float tensors, labels to int64.

    Args:
        images: uint8 array (N, 32, 32, 3), values 0..255.
        labels: int array (N,).

    Returns:
        x: float32 tensor (N, 3, 32, 32), each channel c scaled to [0, 1]
           then standardized: (value / 255 - MEAN[c]) / STD[c].
        y: int64 tensor (N,).
    """
    ### BEGIN SOLUTION
    x = torch.from_numpy(np.asarray(images)).permute(0, 3, 1, 2).float().div(255)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    return ((x - mean) / std).contiguous(), y
    ### END SOLUTION


# Task 4.3: mini-batches (make_loader)
def make_loader(x, y, batch_size, shuffle, seed=0):
    """A DataLoader of (x, y) mini-batches; each image keeps its own label.

    Args:
        x: float tensor (N, 3, 32, 32); y: int64 tensor (N,).
        batch_size: images per batch.
        shuffle: reshuffle the order every epoch (training) or not (evaluation).
        seed: seed of the generator that decides the shuffled order.

    Returns:
        A ``torch.utils.data.DataLoader`` yielding (xb, yb).
    """
    ### BEGIN SOLUTION
    generator = torch.Generator()
    generator.manual_seed(seed)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch_size,
                                       shuffle=shuffle, generator=generator)
    ### END SOLUTION


# Task 4.4: one training epoch (train_one_epoch)
def train_one_epoch(model, loader, optimizer, device):
    """One pass over ``loader``: for each batch, zero_grad, forward, cross-entropy loss, backward, step.

    Args:
        model: the network, already on ``device``.
        loader: yields (xb, yb) on the CPU; move them to ``device``.
        optimizer: a ``torch.optim`` optimizer over the model's parameters.
        device: a ``torch.device`` or string such as "cpu" or "cuda".

    Returns:
        The mean training loss over the examples of the epoch (a float).
    """
    ### BEGIN SOLUTION
    model.train()
    total, count = 0.0, 0
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(yb)
        count += len(yb)
    return total / count
    ### END SOLUTION


# Task 4.5: evaluation (evaluate)
def evaluate(model, loader, device):
    """Mean cross-entropy loss and accuracy of ``model`` on ``loader``.

    The model is put in evaluation mode (dropout off) and no autograd graph
    is built (``torch.no_grad()``).

    Returns:
        (loss, accuracy): floats, accuracy in [0, 1].
    """
    ### BEGIN SOLUTION
    model.eval()
    total, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            logits = model(xb)
            total += nn.functional.cross_entropy(logits, yb, reduction="sum").item()
            correct += (logits.argmax(dim=1) == yb).sum().item()
            count += len(yb)
    return total / count, correct / count
    ### END SOLUTION


# Task 4.6: the whole training run (fit)
def fit(train_images, train_labels, val_images, val_labels, *, epochs, lr, batch_size=128,
        dropout=0.0, device="cpu", seed=0, on_epoch=None):
    """Train ``build_lenet(dropout)`` with SGD (momentum 0.9) and evaluate on the validation set after every epoch.

    The validation images are part of the training data set, held out from
    training: watch them to see how training goes, and keep the test set for
    the very end (the grader measures the test accuracy itself). Seeds torch
    with ``seed`` before building the model, so the same seed gives the same
    history. Training batches are shuffled (seeded by ``seed``), validation
    batches are not.

    Args:
        train_images, val_images: uint8 arrays (N, 32, 32, 3).
        train_labels, val_labels: int arrays (N,).
        epochs: number of passes over the training set.
        lr: learning rate of SGD.
        batch_size: images per training batch.
        dropout: passed to ``build_lenet``.
        device: where the model and the batches live ("cpu" or "cuda").
        seed: seed of the run.
        on_epoch: if given, called as ``on_epoch(epoch, history)`` after each epoch.

    Returns:
        (model, history) where history is a dict of lists, one value per
        epoch: "train_loss" (what train_one_epoch returned), "val_loss" and
        "val_accuracy" (what evaluate returned on the validation set).
    """
    ### BEGIN SOLUTION
    torch.manual_seed(seed)
    model = build_lenet(dropout).to(device)
    x_train, y_train = to_tensors(train_images, train_labels)
    x_val, y_val = to_tensors(val_images, val_labels)
    train_loader = make_loader(x_train, y_train, batch_size, shuffle=True, seed=seed)
    val_loader = make_loader(x_val, y_val, 1000, shuffle=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    history = {"train_loss": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(epochs):
        history["train_loss"].append(train_one_epoch(model, train_loader, optimizer, device))
        val_loss, val_accuracy = evaluate(model, val_loader, device)
        history["val_loss"].append(val_loss)
        history["val_accuracy"].append(val_accuracy)
        if on_epoch is not None:
            on_epoch(epoch, history)
    return model, history
    ### END SOLUTION
