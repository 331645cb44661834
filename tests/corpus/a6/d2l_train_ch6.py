"""Corpus: Dive into Deep Learning's training loop, as an A6 submission.

Source: d2l-ai/d2l-en, chapter_convolutional-neural-networks/lenet.md (train_ch6's epoch body,
evaluate_accuracy_gpu) and d2l/torch.py (Accumulator, accuracy).
Adapted: train_mode(net) where d2l calls net.train() (A6's frozen BatchNorm); evaluate_accuracy_gpu also sums
the loss and returns (loss, accuracy).
fit_frozen and the other functions: the reference solution's.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.backbones import load_backbone

BACKBONE = "efficientnet_lite0"   # available offline; "resnet18", "mobilenet_v3_small", "vgg16" with torchvision weights
SIZE = 64                         # CIFAR-10's 32x32 images upsampled: ImageNet features need larger objects


# Task 6.5: the loops of Dive into Deep Learning (PyTorch edition)


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
    train_mode(net)  # adapter: the statement's net.train() that keeps frozen BatchNorm in eval
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


