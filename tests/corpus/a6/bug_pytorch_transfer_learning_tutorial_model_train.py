"""REAL BUG: the transfer-learning tutorial's train_model, as an A6 submission.

Source: pytorch/tutorials, beginner_source/transfer_learning_tutorial.py, train_model(model, criterion, optimizer,
scheduler, num_epochs) ("ConvNet as fixed feature extractor"): ``for phase in ['train', 'val']``, zero_grad,
forward under torch.set_grad_enabled(phase == 'train'), backward + step only in 'train',
running_loss += loss.item() * inputs.size(0), epoch_loss = running_loss / dataset_sizes[phase],
epoch_acc = running_corrects.double() / dataset_sizes[phase].
Adapted: one phase per call (train_one_epoch = 'train', evaluate = 'val'); dataset_sizes[phase] is
len(loader.dataset); evaluate has no optimizer to zero; epoch_acc returned with .item(); no scheduler and no
best-weights copy (the history's last epoch is the returned model's). fit_frozen: the reference's steps a, b, c
and extract_features, then the tutorial's epoch/phase loop on the head. The 'train' phase is VERBATIM: model.train(), so the frozen backbone's BatchNorm layers replace their ImageNet running statistics with the batches' while the head trains. Must lose test_training_a_frozen_model_keeps_batchnorm_statistics only.
The other functions: the reference solution's.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.backbones import load_backbone

BACKBONE = "efficientnet_lite0"   # available offline; "resnet18", "mobilenet_v3_small", "vgg16" with torchvision weights
SIZE = 64                         # CIFAR-10's 32x32 images upsampled: ImageNet features need larger objects


# Task 6.5: the two phases of train_model in the transfer-learning tutorial
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


# Task 6.7: fit_frozen, the reference's steps a, b, c around the tutorial's epoch loop
def fit_frozen(train_images, train_labels, val_images, val_labels, *, backbone=BACKBONE, size=SIZE,
               epochs, lr, batch_size=128, device="cpu", seed=0, on_epoch=None):
    torch.manual_seed(seed)
    pretrained = load_backbone(backbone)
    model = pretrained.model
    head = replace_head(pretrained, 10)
    freeze_backbone(model, pretrained.head)
    model.to(device)
    optimizer = make_optimizer(model, lr)
    x_train, y_train = to_tensors(train_images, train_labels, pretrained.mean, pretrained.std, size)
    x_val, y_val = to_tensors(val_images, val_labels, pretrained.mean, pretrained.std, size)
    f_train = extract_features(model, pretrained.head, x_train, device=device)
    f_val = extract_features(model, pretrained.head, x_val, device=device)
    dataloaders = {'train': make_loader(f_train, y_train, batch_size, shuffle=True, seed=seed),
                   'val': make_loader(f_val, y_val, 1000, shuffle=False)}
    history = {"train_loss": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(epochs):
        # Each epoch has a training and validation phase
        for phase in ['train', 'val']:
            epoch_loss, epoch_acc = run_phase(head, dataloaders[phase], optimizer, device, phase)
            if phase == 'train':
                history["train_loss"].append(epoch_loss)
            else:
                history["val_loss"].append(epoch_loss)
                history["val_accuracy"].append(epoch_acc)
        if on_epoch is not None:
            on_epoch(epoch, history)
    model.eval()
    return model, history


