"""Corpus: Udacity's CIFAR-10 CNN epoch loop, as the fit of an A5 submission.

Source: udacity/deep-learning-v2-pytorch, convolutional-neural-networks/cifar-cnn/cifar10_cnn_augmentation.ipynb
("Train the Network"): ``for epoch in range(1, n_epochs+1)``, train_loss = 0.0, model.train(),
``if train_on_gpu: data, target = data.cuda(), target.cuda()``, train_loss += loss.item()*data.size(0),
train_loss = train_loss/len(train_loader.sampler).
Adapted: the batch step is the statement's l2_training_step (it returns loss.item()); the loader is a
DataLoader shuffled by the seeded generator, which also draws the flips and crops; train_on_gpu follows the
device asked for; after each epoch the statement's accuracy(...) and EarlyStopping replace the notebook's
validation loss and torch.save of the best model.
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


# Task 5.6: the overfitting experiment, with the epoch loop of Udacity's CIFAR-10 CNN solution
def fit(train_images, train_labels, val_images, val_labels, *, epochs, lr, batch_size=64, l2=0.0,
        dropout=0.0, augment=False, patience=None, device="cpu", seed=0, on_epoch=None):
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = build_lenet(dropout).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    x_train, y_train = to_tensors(train_images, train_labels)
    x_val, y_val = to_tensors(val_images, val_labels)
    train_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_train, y_train),
                                               batch_size=batch_size, shuffle=True, generator=generator)
    train_on_gpu = torch.device(device).type == 'cuda'  # adapter: the notebook's torch.cuda.is_available()
    stopper = EarlyStopping(patience) if patience is not None else None
    history = {"train_loss": [], "train_accuracy": [], "val_accuracy": []}

    for epoch in range(1, epochs+1):

        # keep track of training loss
        train_loss = 0.0

        ###################
        # train the model #
        ###################
        model.train()
        for data, target in train_loader:
            if augment:  # adapter: the statement's flips and crops
                data = random_crop(random_horizontal_flip(data, generator), generator, padding=4)
            # move tensors to GPU if CUDA is available
            if train_on_gpu:
                data, target = data.cuda(), target.cuda()
            # zero_grad, forward, loss + penalty, backward, step: the statement's l2_training_step (adapter)
            loss = l2_training_step(model, data, target, optimizer, l2)
            # update training loss
            train_loss += loss*data.size(0)

        # calculate average losses
        train_loss = train_loss/len(train_loader.sampler)
        history["train_loss"].append(train_loss)
        history["train_accuracy"].append(accuracy(model, x_train, y_train, device))
        history["val_accuracy"].append(accuracy(model, x_val, y_val, device))
        stop = stopper is not None and stopper.step(history["val_accuracy"][-1], model)
        if on_epoch is not None:
            on_epoch(epoch - 1, history)
        if stop:
            break
    if stopper is not None:
        stopper.restore(model)
    return model, history
