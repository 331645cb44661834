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
