"""REAL BUG: Corpus: pytorch/examples' MNIST loops, as an A4 submission.

Source: pytorch/examples, mnist/main.py: train(args, model, device, train_loader, optimizer, epoch) (model.train()
at the top, data, target = data.to(device), target.to(device), zero_grad, forward, loss, backward, step, logging with
len(train_loader.dataset)) and test(model, device, test_loader) (sum of the batch losses, then
test_loss /= len(test_loader.dataset)), and main()'s ``for epoch in range(1, args.epochs + 1)``.
Adapted: F.nll_loss on the log_softmax Net becomes F.cross_entropy on LeNet's logits (the same loss);
args.log_interval / args.dry_run are constants; train() also sums loss.item() * len(data) and returns it
over len(train_loader.dataset); test() returns (test_loss, correct / len(test_loader.dataset)). The
seeding (torch.manual_seed) and the optimizer are the statement's (SGD, momentum 0.9, no StepLR).
The bug: optimizer.zero_grad() deleted from train(), so every backward adds to the gradients of all the previous batches. Must lose test_gradients_are_zeroed_every_step, test_epoch_loss_and_weights_follow_the_statement and test_training_epochs_lower_the_loss_on_a_small_set (accumulated gradients with momentum 0.9 diverge).
build_lenet, to_tensors, make_loader: the reference solution's.
"""
import numpy as np
import torch
import torch.nn as nn

# Per-channel mean and standard deviation of the CIFAR-10 training images in [0, 1].
MEAN = (0.4913, 0.4821, 0.4465)
STD = (0.2452, 0.2428, 0.2606)


import torch.nn.functional as F


# Task 4.4 / 4.5: the loops of pytorch/examples mnist/main.py
LOG_INTERVAL = 10  # adapter: args.log_interval
DRY_RUN = False    # adapter: args.dry_run


def train(model, device, train_loader, optimizer, epoch):
    model.train()
    total = 0.0  # adapter
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
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
