"""Corpus: Dive into Deep Learning's training loop, as an A4 submission.

Source: d2l-ai/d2l-en, chapter_convolutional-neural-networks/lenet.md (train_ch6: net.train(), optimizer.zero_grad()
BEFORE moving X, y to the device, l.backward(), optimizer.step(), metric.add(l * X.shape[0], accuracy(y_hat, y),
X.shape[0]) under torch.no_grad(), train_l = metric[0] / metric[2]; evaluate_accuracy_gpu) and
chapter_linear-classification/softmax-regression-scratch / d2l/torch.py (Accumulator, accuracy).
Adapted: the body of train_ch6's epoch loop is train_one_epoch (no timer, no animator); evaluate_accuracy_gpu
also sums the loss (a third Accumulator slot) and returns (loss, accuracy).
build_lenet, to_tensors, make_loader, fit: the reference solution's.
"""
import numpy as np
import torch
import torch.nn as nn

# Per-channel mean and standard deviation of the CIFAR-10 training images in [0, 1].
MEAN = (0.4913, 0.4821, 0.4465)
STD = (0.2452, 0.2428, 0.2606)


# Task 4.4 / 4.5: the loops of Dive into Deep Learning (PyTorch edition)


class Accumulator:  #@save
    """For accumulating sums over `n` variables."""
    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def reset(self):
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx):
        return self.data[idx]


def accuracy(y_hat, y):  #@save
    """Compute the number of correct predictions."""
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())


loss = nn.CrossEntropyLoss()


def train_one_epoch(model, loader, optimizer, device):
    net, train_iter = model, loader  # adapter: d2l's names
    # Sum of training loss, sum of training accuracy, no. of examples
    metric = Accumulator(3)
    net.train()
    for i, (X, y) in enumerate(train_iter):
        optimizer.zero_grad()
        X, y = X.to(device), y.to(device)
        y_hat = net(X)
        l = loss(y_hat, y)
        l.backward()
        optimizer.step()
        with torch.no_grad():
            metric.add(l * X.shape[0], accuracy(y_hat, y), X.shape[0])
        train_l = metric[0] / metric[2]
        train_acc = metric[1] / metric[2]
    return train_l  # adapter


def evaluate(model, loader, device):
    """d2l's evaluate_accuracy_gpu, with the loss summed too (adapter)."""
    net, data_iter = model, loader  # adapter: d2l's names
    if isinstance(net, nn.Module):
        net.eval()  # Set the model to evaluation mode
        if not device:
            device = next(iter(net.parameters())).device
    # No. of correct predictions, no. of predictions, sum of losses (adapter)
    metric = Accumulator(3)
    with torch.no_grad():
        for X, y in data_iter:
            if isinstance(X, list):
                # Required for BERT Fine-tuning (to be covered later)
                X = [x.to(device) for x in X]
            else:
                X = X.to(device)
            y = y.to(device)
            y_hat = net(X)
            metric.add(accuracy(y_hat, y), y.numel(), loss(y_hat, y) * y.numel())
    return metric[2] / metric[1], metric[0] / metric[1]  # adapter


