"""Corpus: the two phases of the transfer-learning tutorial's train_model, as an A4 submission.

Source: pytorch/tutorials, beginner_source/transfer_learning_tutorial.py, train_model(model, criterion, optimizer,
scheduler, num_epochs): model.train() / model.eval() by phase, zero_grad, forward under
torch.set_grad_enabled(phase == 'train'), _, preds = torch.max(outputs, 1), backward + step only in 'train',
running_loss += loss.item() * inputs.size(0), running_corrects += torch.sum(preds == labels.data),
epoch_loss = running_loss / dataset_sizes[phase], epoch_acc = running_corrects.double() / dataset_sizes[phase].
Adapted: one phase per call (train_one_epoch = 'train', evaluate = 'val'); dataset_sizes[phase] is
len(loader.dataset); evaluate has no optimizer to zero; epoch_acc returned with .item(); no scheduler and no
best-weights copy (fit returns the last epoch's model, whose accuracy the history reports).
build_lenet, to_tensors, make_loader, fit: the reference solution's.
"""
import numpy as np
import torch
import torch.nn as nn

# Per-channel mean and standard deviation of the CIFAR-10 training images in [0, 1].
MEAN = (0.4913, 0.4821, 0.4465)
STD = (0.2452, 0.2428, 0.2606)


# Task 4.4 / 4.5: the two phases of train_model in the transfer-learning tutorial
criterion = nn.CrossEntropyLoss()


def run_phase(model, loader, optimizer, device, phase):
    """The body of ``for phase in ['train', 'val']`` of train_model (adapter: one phase per call)."""
    dataset_sizes = {phase: len(loader.dataset)}  # adapter: the tutorial's dict of len(image_datasets[x])
    if phase == 'train':
        model.train()  # Set model to training mode
    else:
        model.eval()   # Set model to evaluate mode

    running_loss = 0.0
    running_corrects = 0

    # Iterate over data.
    for inputs, labels in loader:
        inputs = inputs.to(device)
        labels = labels.to(device)

        # zero the parameter gradients
        if optimizer is not None:  # adapter: evaluate gets no optimizer
            optimizer.zero_grad()

        # forward
        # track history if only in train
        with torch.set_grad_enabled(phase == 'train'):
            outputs = model(inputs)
            _, preds = torch.max(outputs, 1)
            loss = criterion(outputs, labels)

            # backward + optimize only if in training phase
            if phase == 'train':
                loss.backward()
                optimizer.step()

        # statistics
        running_loss += loss.item() * inputs.size(0)
        running_corrects += torch.sum(preds == labels.data)

    epoch_loss = running_loss / dataset_sizes[phase]
    epoch_acc = running_corrects.double() / dataset_sizes[phase]
    return epoch_loss, epoch_acc.item()  # adapter


def train_one_epoch(model, loader, optimizer, device):
    return run_phase(model, loader, optimizer, device, 'train')[0]


def evaluate(model, loader, device):
    return run_phase(model, loader, None, device, 'val')


