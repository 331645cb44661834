"""Corpus: the PyTorch Quickstart's train/test loops, as an A4 submission.

Source: pytorch/tutorials, beginner_source/basics/quickstart_tutorial.py ("Optimizing the Model
Parameters": train(dataloader, model, loss_fn, optimizer), test(dataloader, model, loss_fn) and the
``for t in range(epochs)`` loop), current version: model.train() at the top, backward, step, then
zero_grad() AFTER step(); size = len(dataloader.dataset); correct /= size.
Adapted: ``device`` is a parameter instead of a global; train() also sums loss.item() * len(X) and returns
that sum / size (the statement's mean over examples); test() returns (test_loss, correct) and weights each batch's loss by len(X), dividing by size instead of num_batches (the statement's mean over examples).
build_lenet, to_tensors, make_loader: the reference solution's. fit: the reference's setup around the
Quickstart's epoch loop.
"""
import numpy as np
import torch
import torch.nn as nn

# Per-channel mean and standard deviation of the CIFAR-10 training images in [0, 1].
MEAN = (0.4913, 0.4821, 0.4465)
STD = (0.2452, 0.2428, 0.2606)


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
            test_loss += loss_fn(pred, y).item() * len(X)  # adapter: weighted by the batch size
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    test_loss /= size  # adapter: the source divides by num_batches (the mean over batches)
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
