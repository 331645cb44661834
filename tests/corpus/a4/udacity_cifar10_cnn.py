"""Corpus: Udacity's CIFAR-10 CNN solution notebook, as an A4 submission.

Source: udacity/deep-learning-v2-pytorch, convolutional-neural-networks/cifar-cnn/cifar10_cnn_solution.ipynb
("Train the Network" and "Test the Trained Network" cells): train_on_gpu = torch.cuda.is_available();
``if train_on_gpu: data, target = data.cuda(), target.cuda()`` (no .to(device) on a CPU);
train_loss += loss.item()*data.size(0); train_loss/len(train_loader.sampler); model.eval() before validating;
_, pred = torch.max(output, 1); pred.eq(target.data.view_as(pred)).
Adapted: train_on_gpu says whether the device asked for is CUDA; the per-class counts become one count;
the validation loop runs under torch.no_grad() (the notebook's has none; the statement asks for it).
build_lenet, to_tensors, make_loader, fit: the reference solution's.
"""
import numpy as np
import torch
import torch.nn as nn

# Per-channel mean and standard deviation of the CIFAR-10 training images in [0, 1].
MEAN = (0.4913, 0.4821, 0.4465)
STD = (0.2452, 0.2428, 0.2606)


# Task 4.4 / 4.5: the loops of Udacity's CIFAR-10 CNN solution
criterion = nn.CrossEntropyLoss()


def train_one_epoch(model, loader, optimizer, device):
    train_loader = loader  # adapter: the notebook's name
    train_on_gpu = torch.device(device).type == 'cuda'  # adapter: the notebook's torch.cuda.is_available(), for the device asked
    # keep track of training loss
    train_loss = 0.0

    ###################
    # train the model #
    ###################
    model.train()
    for data, target in train_loader:
        # move tensors to GPU if CUDA is available
        if train_on_gpu:
            data, target = data.cuda(), target.cuda()
        # clear the gradients of all optimized variables
        optimizer.zero_grad()
        # forward pass: compute predicted outputs by passing inputs to the model
        output = model(data)
        # calculate the batch loss
        loss = criterion(output, target)
        # backward pass: compute gradient of the loss with respect to model parameters
        loss.backward()
        # perform a single optimization step (parameter update)
        optimizer.step()
        # update training loss
        train_loss += loss.item()*data.size(0)

    # calculate average losses
    train_loss = train_loss/len(train_loader.sampler)
    return train_loss  # adapter


def evaluate(model, loader, device):
    valid_loader = loader  # adapter: the notebook's name
    train_on_gpu = torch.device(device).type == 'cuda'  # adapter
    valid_loss = 0.0
    correct, total = 0, 0  # adapter: the notebook's test cell counts class_correct / class_total

    ######################
    # validate the model #
    ######################
    model.eval()
    with torch.no_grad():  # adapter: the statement asks for no autograd graph
        for data, target in valid_loader:
            # move tensors to GPU if CUDA is available
            if train_on_gpu:
                data, target = data.cuda(), target.cuda()
            # forward pass: compute predicted outputs by passing inputs to the model
            output = model(data)
            # calculate the batch loss
            loss = criterion(output, target)
            # update average validation loss
            valid_loss += loss.item()*data.size(0)
            # convert output probabilities to predicted class (the notebook's test cell)
            _, pred = torch.max(output, 1)
            # compare predictions to true label
            correct_tensor = pred.eq(target.data.view_as(pred))
            correct += correct_tensor.sum().item()  # adapter: the sum of the notebook's class_correct
            total += target.size(0)  # adapter: the sum of the notebook's class_total

    valid_loss = valid_loss/len(valid_loader.sampler)
    return valid_loss, correct / total  # adapter


