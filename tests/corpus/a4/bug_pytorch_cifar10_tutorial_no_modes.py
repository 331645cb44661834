"""REAL BUG: Corpus: the PyTorch CIFAR-10 tutorial's loops, as an A4 submission.

Source: pytorch/tutorials, beginner_source/blitz/cifar10_tutorial.py ("4. Train the network": the
``for i, data in enumerate(trainloader, 0)`` loop with zero_grad, forward, criterion, backward, step and
running_loss; "5. Test the network on the test data": correct/total under torch.no_grad() with
torch.max(outputs.data, 1); "Training on GPU": inputs, labels = data[0].to(device), data[1].to(device)).
Adapted: the epoch loop's body is train_one_epoch; the loss is also summed as loss.item() * labels.size(0)
and returned over the examples; evaluate also sums the loss; the mode calls are left out as in the tutorial: the loops never call model.train() / model.eval(), so with dropout the network trains in whatever mode evaluate left it and evaluates with dropout on. Must lose test_evaluate_on_a_known_model (public: model.eval() named before submission), test_training_mode_and_one_step_per_batch and test_evaluate_uses_eval_mode_and_builds_no_graph.
build_lenet, to_tensors, make_loader, fit: the reference solution's.
"""
import numpy as np
import torch
import torch.nn as nn

# Per-channel mean and standard deviation of the CIFAR-10 training images in [0, 1].
MEAN = (0.4913, 0.4821, 0.4465)
STD = (0.2452, 0.2428, 0.2606)


# Task 4.4 / 4.5: the loops of the "Training a Classifier" tutorial
criterion = nn.CrossEntropyLoss()


def train_one_epoch(model, loader, optimizer, device):
    net, trainloader, epoch = model, loader, 0  # adapter: the tutorial's names
    epoch_loss, seen = 0.0, 0  # adapter: the statement's mean over examples

    running_loss = 0.0
    for i, data in enumerate(trainloader, 0):
        # get the inputs; data is a list of [inputs, labels]
        inputs, labels = data[0].to(device), data[1].to(device)

        # zero the parameter gradients
        optimizer.zero_grad()

        # forward + backward + optimize
        outputs = net(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()

        # print statistics
        running_loss += loss.item()
        epoch_loss += loss.item() * labels.size(0)  # adapter
        seen += labels.size(0)  # adapter
        if i % 2000 == 1999:    # print every 2000 mini-batches
            print(f'[{epoch + 1}, {i + 1:5d}] loss: {running_loss / 2000:.3f}')
            running_loss = 0.0
    return epoch_loss / seen  # adapter


def evaluate(model, loader, device):
    net, testloader = model, loader  # adapter: the tutorial's names
    test_loss = 0.0  # adapter: the statement also asks for the mean loss
    correct = 0
    total = 0
    # since we're not training, we don't need to calculate the gradients for our outputs
    with torch.no_grad():
        for data in testloader:
            images, labels = data[0].to(device), data[1].to(device)
            # calculate outputs by running images through the network
            outputs = net(images)
            test_loss += criterion(outputs, labels).item() * labels.size(0)  # adapter
            # the class with the highest energy is what we choose as prediction
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    return test_loss / total, correct / total  # adapter


