"""Corpus: pytorch/examples' MNIST loops, as an A4 submission.

Source: pytorch/examples, mnist/main.py: train(args, model, device, train_loader, optimizer, epoch) (model.train()
at the top, data, target = data.to(device), target.to(device), zero_grad, forward, loss, backward, step, logging with
len(train_loader.dataset)) and test(model, device, test_loader) (sum of the batch losses, then
test_loss /= len(test_loader.dataset)), and main()'s ``for epoch in range(1, args.epochs + 1)``.
Adapted: F.nll_loss on the log_softmax Net becomes F.cross_entropy on LeNet's logits (the same loss);
args.log_interval / args.dry_run are constants; train() also sums loss.item() * len(data) and returns it
over len(train_loader.dataset); test() returns (test_loss, correct / len(test_loader.dataset)). The
seeding (torch.manual_seed) and the optimizer are the statement's (SGD, momentum 0.9, no StepLR).
build_lenet, to_tensors, make_loader: the reference solution's.
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


import torch.nn.functional as F


# Task 4.4 / 4.5: the loops of pytorch/examples mnist/main.py
LOG_INTERVAL = 10  # adapter: args.log_interval
DRY_RUN = False    # adapter: args.dry_run


def train(model, device, train_loader, optimizer, epoch):
    model.train()
    total = 0.0  # adapter
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.cross_entropy(output, target)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(data)  # adapter
        if batch_idx % LOG_INTERVAL == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item()))
            if DRY_RUN:
                break
    return total / len(train_loader.dataset)  # adapter


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.cross_entropy(output, target, reduction='sum').item()  # sum up batch loss
            pred = output.argmax(dim=1, keepdim=True)  # get the index of the max log-probability
            correct += pred.eq(target.view_as(pred)).sum().item()

    test_loss /= len(test_loader.dataset)

    print('\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n'.format(
        test_loss, correct, len(test_loader.dataset),
        100. * correct / len(test_loader.dataset)))
    return test_loss, correct / len(test_loader.dataset)  # adapter


def train_one_epoch(model, loader, optimizer, device):
    return train(model, device, loader, optimizer, 1)


def evaluate(model, loader, device):
    return test(model, device, loader)


def fit(train_images, train_labels, val_images, val_labels, *, epochs, lr, batch_size=128,
        dropout=0.0, device="cpu", seed=0, on_epoch=None):
    torch.manual_seed(seed)
    x_train, y_train = to_tensors(train_images, train_labels)
    x_val, y_val = to_tensors(val_images, val_labels)
    train_loader = make_loader(x_train, y_train, batch_size, shuffle=True, seed=seed)
    test_loader = make_loader(x_val, y_val, 1000, shuffle=False)
    model = build_lenet(dropout).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    history = {"train_loss": [], "val_loss": [], "val_accuracy": []}
    # main()'s epoch loop (no StepLR: the statement's SGD has a constant learning rate)
    for epoch in range(1, epochs + 1):
        history["train_loss"].append(train(model, device, train_loader, optimizer, epoch))
        val_loss, val_accuracy = test(model, device, test_loader)
        history["val_loss"].append(val_loss)
        history["val_accuracy"].append(val_accuracy)
        if on_epoch is not None:
            on_epoch(epoch - 1, history)
    return model, history
