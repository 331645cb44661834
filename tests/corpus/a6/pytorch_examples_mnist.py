"""Corpus: pytorch/examples' MNIST loops, as an A6 submission.

Source: pytorch/examples, mnist/main.py: train(args, model, device, train_loader, optimizer, epoch) and
test(model, device, test_loader) (sum of the batch losses over len(test_loader.dataset)).
Adapted: F.nll_loss on log-probabilities becomes F.cross_entropy on logits; args.log_interval is a constant;
train() calls the statement's train_mode(model) where the example calls model.train(), sums
loss.item() * len(data) and returns it over len(train_loader.dataset); test() returns (loss, accuracy).
fit_frozen and the other functions: the reference solution's.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.backbones import load_backbone

BACKBONE = "efficientnet_lite0"   # available offline; "resnet18", "mobilenet_v3_small", "vgg16" with torchvision weights
SIZE = 64                         # CIFAR-10's 32x32 images upsampled: ImageNet features need larger objects


# Task 6.5: the loops of pytorch/examples mnist/main.py
LOG_INTERVAL = 10  # adapter: args.log_interval


def train(model, device, train_loader, optimizer, epoch):
    train_mode(model)  # adapter: the statement's model.train() that keeps frozen BatchNorm in eval
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


