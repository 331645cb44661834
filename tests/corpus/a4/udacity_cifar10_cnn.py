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


# Task 4.1: the LeNet-style CNN of the PUC deck (build_lenet)
def build_lenet(dropout=0.0):
    """conv 3->6 k5, ReLU, max-pool 2, conv 6->16 k5, ReLU, max-pool 2, flatten,
    FC 400->120, ReLU, FC 120->84, ReLU, FC 84->10 (62,006 parameters).

    Args:
        dropout: if > 0, an ``nn.Dropout(dropout)`` before each of the three
            fully connected layers (no extra parameters).

    Returns:
        An ``nn.Sequential`` mapping (N, 3, 32, 32) to logits (N, 10).
    """
    def drop():
        return [nn.Dropout(dropout)] if dropout > 0 else []

    return nn.Sequential(
        nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        *drop(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        *drop(), nn.Linear(120, 84), nn.ReLU(),
        *drop(), nn.Linear(84, 10),
    )


# Task 4.2: input normalization (to_tensors)
def to_tensors(images, labels):
    """Images to normalized float tensors, labels to int64.

    Args:
        images: uint8 array (N, 32, 32, 3), values 0..255.
        labels: int array (N,).

    Returns:
        x: float32 tensor (N, 3, 32, 32), each channel c scaled to [0, 1]
           then standardized: (value / 255 - MEAN[c]) / STD[c].
        y: int64 tensor (N,).
    """
    x = torch.from_numpy(np.asarray(images)).permute(0, 3, 1, 2).float().div(255)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    return ((x - mean) / std).contiguous(), y


# Task 4.3: mini-batches (make_loader)
def make_loader(x, y, batch_size, shuffle, seed=0):
    """A DataLoader of (x, y) mini-batches; each image keeps its own label.

    Args:
        x: float tensor (N, 3, 32, 32); y: int64 tensor (N,).
        batch_size: images per batch.
        shuffle: reshuffle the order every epoch (training) or not (evaluation).
        seed: seed of the generator that decides the shuffled order.

    Returns:
        A ``torch.utils.data.DataLoader`` yielding (xb, yb).
    """
    generator = torch.Generator()
    generator.manual_seed(seed)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch_size,
                                       shuffle=shuffle, generator=generator)


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


# Task 4.6: the whole training run (fit)
def fit(train_images, train_labels, val_images, val_labels, *, epochs, lr, batch_size=128,
        dropout=0.0, device="cpu", seed=0, on_epoch=None):
    """Train ``build_lenet(dropout)`` with SGD (momentum 0.9) and evaluate on the validation set after every epoch.

    The validation images are part of the training data set, held out from
    training: watch them to see how training goes, and keep the test set for
    the very end (the grader measures the test accuracy itself). Seeds torch
    with ``seed`` before building the model, so the same seed gives the same
    history. Training batches are shuffled (seeded by ``seed``), validation
    batches are not.

    Args:
        train_images, val_images: uint8 arrays (N, 32, 32, 3).
        train_labels, val_labels: int arrays (N,).
        epochs: number of passes over the training set.
        lr: learning rate of SGD.
        batch_size: images per training batch.
        dropout: passed to ``build_lenet``.
        device: where the model and the batches live ("cpu" or "cuda").
        seed: seed of the run.
        on_epoch: if given, called as ``on_epoch(epoch, history)`` after each epoch.

    Returns:
        (model, history) where history is a dict of lists, one value per
        epoch: "train_loss" (what train_one_epoch returned), "val_loss" and
        "val_accuracy" (what evaluate returned on the validation set).
    """
    torch.manual_seed(seed)
    model = build_lenet(dropout).to(device)
    x_train, y_train = to_tensors(train_images, train_labels)
    x_val, y_val = to_tensors(val_images, val_labels)
    train_loader = make_loader(x_train, y_train, batch_size, shuffle=True, seed=seed)
    val_loader = make_loader(x_val, y_val, 1000, shuffle=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    history = {"train_loss": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(epochs):
        history["train_loss"].append(train_one_epoch(model, train_loader, optimizer, device))
        val_loss, val_accuracy = evaluate(model, val_loader, device)
        history["val_loss"].append(val_loss)
        history["val_accuracy"].append(val_accuracy)
        if on_epoch is not None:
            on_epoch(epoch, history)
    return model, history
