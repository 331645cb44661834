"""Corpus: pytorch/examples' ImageNet loops, as an A4 submission.

Source: pytorch/examples, imagenet/main.py: train() (model.train(), images/target .to(device, non_blocking=True),
forward, loss, accuracy(output, target, topk=(1, 5)), losses.update(loss.item(), images.size(0)), then
zero_grad, backward, step), validate() with its run_validate() under torch.no_grad() after model.eval(), and the
AverageMeter and accuracy helpers.
Adapted: no timing, progress meter, distributed or GPU-index branches; the device is the one asked for;
train_one_epoch returns losses.avg (the mean over examples) and evaluate (losses.avg, top1.avg / 100).
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


# Task 4.4 / 4.5: the loops of pytorch/examples imagenet/main.py
criterion = nn.CrossEntropyLoss()


class AverageMeter(object):
    """Computes and stores the average and current value"""
    def __init__(self, name, fmt=':f'):
        self.name = name
        self.fmt = fmt
        self.reset()

    def reset(self):
        self.val = 0
        self.avg = 0
        self.sum = 0
        self.count = 0

    def update(self, val, n=1):
        self.val = val
        self.sum += val * n
        self.count += n
        self.avg = self.sum / self.count


def accuracy(output, target, topk=(1,)):
    """Computes the accuracy over the k top predictions for the specified values of k"""
    with torch.no_grad():
        maxk = max(topk)
        batch_size = target.size(0)

        _, pred = output.topk(maxk, 1, True, True)
        pred = pred.t()
        correct = pred.eq(target.view(1, -1).expand_as(pred))

        res = []
        for k in topk:
            correct_k = correct[:k].reshape(-1).float().sum(0, keepdim=True)
            res.append(correct_k.mul_(100.0 / batch_size))
        return res


def train_one_epoch(model, loader, optimizer, device):
    train_loader = loader  # adapter: the example's name
    losses = AverageMeter('Loss', ':.4e')
    top1 = AverageMeter('Acc@1', ':6.2f')
    top5 = AverageMeter('Acc@5', ':6.2f')

    # switch to train mode
    model.train()

    for i, (images, target) in enumerate(train_loader):
        # move data to the same device as model
        images = images.to(device, non_blocking=True)
        target = target.to(device, non_blocking=True)

        # compute output
        output = model(images)
        loss = criterion(output, target)

        # measure accuracy and record loss
        acc1, acc5 = accuracy(output, target, topk=(1, 5))
        losses.update(loss.item(), images.size(0))
        top1.update(acc1[0], images.size(0))
        top5.update(acc5[0], images.size(0))

        # compute gradient and do SGD step
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return losses.avg  # adapter


def evaluate(model, loader, device):
    val_loader = loader  # adapter: the example's name
    losses = AverageMeter('Loss', ':.4e')
    top1 = AverageMeter('Acc@1', ':6.2f')
    top5 = AverageMeter('Acc@5', ':6.2f')

    def run_validate(loader, base_progress=0):
        with torch.no_grad():
            for i, (images, target) in enumerate(loader):
                i = base_progress + i
                images = images.to(device, non_blocking=True)
                target = target.to(device, non_blocking=True)

                # compute output
                output = model(images)
                loss = criterion(output, target)

                # measure accuracy and record loss
                acc1, acc5 = accuracy(output, target, topk=(1, 5))
                losses.update(loss.item(), images.size(0))
                top1.update(acc1[0], images.size(0))
                top5.update(acc5[0], images.size(0))

    # switch to evaluate mode
    model.eval()

    run_validate(val_loader)
    return losses.avg, float(top1.avg) / 100  # adapter: Acc@1 is a percentage


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
