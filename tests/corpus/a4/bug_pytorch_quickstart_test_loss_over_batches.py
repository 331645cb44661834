"""REAL BUG: Corpus: the PyTorch Quickstart's train/test loops, as an A4 submission.

Source: pytorch/tutorials, beginner_source/basics/quickstart_tutorial.py ("Optimizing the Model
Parameters": train(dataloader, model, loss_fn, optimizer), test(dataloader, model, loss_fn) and the
``for t in range(epochs)`` loop), current version: model.train() at the top, backward, step, then
zero_grad() AFTER step(); size = len(dataloader.dataset); correct /= size.
Adapted: ``device`` is a parameter instead of a global; train() also sums loss.item() * len(X) and returns
that sum / size (the statement's mean over examples); test() returns (test_loss, correct); test() is VERBATIM: test_loss /= num_batches, the mean over batches, which is not the mean over examples when the last batch is smaller. Must lose test_evaluate_on_a_known_model only.
build_lenet, to_tensors, make_loader: the reference solution's. fit: the reference's setup around the
Quickstart's epoch loop.
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
    x = torch.from_numpy(np.asarray(images)).permute(0, 3, 1, 2).float().div(255)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    return ((x - mean) / std).contiguous(), y


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
    generator = torch.Generator()
    generator.manual_seed(seed)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch_size,
                                       shuffle=shuffle, generator=generator)


# Task 4.4 / 4.5: the loops of the PyTorch Quickstart
loss_fn = nn.CrossEntropyLoss()


def train(dataloader, model, loss_fn, optimizer, device):
    size = len(dataloader.dataset)
    model.train()
    total = 0.0  # adapter: the statement asks for the mean loss over the examples
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)

        # Compute prediction error
        pred = model(X)
        loss = loss_fn(pred, y)

        # Backpropagation
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

        total += loss.item() * len(X)  # adapter
        if batch % 100 == 0:
            loss, current = loss.item(), (batch + 1) * len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")
    return total / size  # adapter


def test(dataloader, model, loss_fn, device):
    # Set the model to evaluation mode - important for batch normalization and dropout layers
    model.eval()
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    test_loss, correct = 0, 0

    # Evaluating the model with torch.no_grad() ensures that no gradients are computed during test mode
    with torch.no_grad():
        for X, y in dataloader:
            X, y = X.to(device), y.to(device)
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    test_loss /= num_batches
    correct /= size
    print(f"Test Error: \n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")
    return test_loss, correct  # adapter


def train_one_epoch(model, loader, optimizer, device):
    return train(loader, model, loss_fn, optimizer, device)


def evaluate(model, loader, device):
    return test(loader, model, loss_fn, device)


def fit(train_images, train_labels, val_images, val_labels, *, epochs, lr, batch_size=128,
        dropout=0.0, device="cpu", seed=0, on_epoch=None):
    torch.manual_seed(seed)
    model = build_lenet(dropout).to(device)
    x_train, y_train = to_tensors(train_images, train_labels)
    x_val, y_val = to_tensors(val_images, val_labels)
    train_dataloader = make_loader(x_train, y_train, batch_size, shuffle=True, seed=seed)
    test_dataloader = make_loader(x_val, y_val, 1000, shuffle=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    history = {"train_loss": [], "val_loss": [], "val_accuracy": []}
    # the Quickstart's epoch loop
    for t in range(epochs):
        print(f"Epoch {t+1}\n-------------------------------")
        history["train_loss"].append(train(train_dataloader, model, loss_fn, optimizer, device))
        val_loss, val_accuracy = test(test_dataloader, model, loss_fn, device)
        history["val_loss"].append(val_loss)
        history["val_accuracy"].append(val_accuracy)
        if on_epoch is not None:
            on_epoch(t, history)
    print("Done!")
    return model, history
