"""Corpus: the transfer-learning tutorial's train_model, as an A6 submission.

Source: pytorch/tutorials, beginner_source/transfer_learning_tutorial.py, train_model(model, criterion, optimizer,
scheduler, num_epochs) ("ConvNet as fixed feature extractor"): ``for phase in ['train', 'val']``, zero_grad,
forward under torch.set_grad_enabled(phase == 'train'), backward + step only in 'train',
running_loss += loss.item() * inputs.size(0), epoch_loss = running_loss / dataset_sizes[phase],
epoch_acc = running_corrects.double() / dataset_sizes[phase].
Adapted: one phase per call (train_one_epoch = 'train', evaluate = 'val'); dataset_sizes[phase] is
len(loader.dataset); evaluate has no optimizer to zero; epoch_acc returned with .item(); no scheduler and no
best-weights copy (the history's last epoch is the returned model's). fit_frozen: the reference's steps a, b, c
and extract_features, then the tutorial's epoch/phase loop on the head. The 'train' phase calls the statement's train_mode(model) where the tutorial calls model.train() (A6 asks frozen BatchNorm to stay in eval mode).
The other functions: the reference solution's.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.backbones import load_backbone

BACKBONE = "efficientnet_lite0"   # available offline; "resnet18", "mobilenet_v3_small", "vgg16" with torchvision weights
SIZE = 64                         # CIFAR-10's 32x32 images upsampled: ImageNet features need larger objects


def make_loader(x, y, batch_size, shuffle, seed=0):
    """Given: a DataLoader of (x, y) mini-batches, shuffled with a seeded generator (as in A4)."""
    pairs = torch.utils.data.TensorDataset(x, y)
    return torch.utils.data.DataLoader(pairs, batch_size=batch_size, shuffle=shuffle,
                                       generator=torch.Generator().manual_seed(seed))


# Task 6.1: the input pipeline of a pretrained network (to_tensors)
def to_tensors(images, labels, mean, std, size=SIZE):
    """Images as the pretrained network expects them, labels as int64.

    Args:
        images: uint8 array (N, 32, 32, 3), values 0..255.
        labels: int array (N,).
        mean, std: per-channel normalization of the backbone (3 floats each).
        size: side of the resized images.

    Returns:
        x: float32 tensor (N, 3, size, size): values scaled to [0, 1], resized with
           ``F.interpolate(..., size=(size, size), mode="bilinear", align_corners=False)``,
           then each channel c standardized: (value - mean[c]) / std[c].
        y: int64 tensor (N,).
    """
    x = torch.as_tensor(images).permute(0, 3, 1, 2).float().div(255)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    return x.contiguous(), torch.as_tensor(labels, dtype=torch.int64)


# Task 6.2: step b, a new head for 10 classes (replace_head)
def replace_head(backbone, num_classes=10):
    """Replace ``backbone.model``'s head (the attribute named ``backbone.head``) by a new
    ``nn.Linear(backbone.num_features, num_classes)``.

    Returns:
        The new head module (now also ``getattr(backbone.model, backbone.head)``).
    """
    head = nn.Linear(backbone.num_features, num_classes)
    setattr(backbone.model, backbone.head, head)
    return head


# Task 6.3: step c, freeze the convolutional part (freeze_backbone, train_mode)
def freeze_backbone(model, head):
    """Freeze every parameter of ``model`` except those of its head.

    Args:
        model: the network; ``getattr(model, head)`` is its head.
        head: the name of the head attribute ("classifier", "fc").

    After the call, ``p.requires_grad`` is False for the backbone's parameters
    and True for the head's. Returns nothing.
    """
    for p in model.parameters():
        p.requires_grad = False
    for p in getattr(model, head).parameters():
        p.requires_grad = True


def train_mode(model):
    """``model.train()``, except that every BatchNorm layer whose parameters are all
    frozen goes back to eval mode, so its running statistics stay the pretrained ones.

    With nothing frozen (fine-tuning) this is ``model.train()``. Returns nothing.
    """
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            if not any(p.requires_grad for p in module.parameters()):
                module.eval()


# Task 6.4: step c, an optimizer over the trainable parameters only (make_optimizer)
def make_optimizer(model, lr):
    """``torch.optim.Adam`` over the parameters of ``model`` that require gradients, learning rate ``lr``.

    After ``freeze_backbone`` that is the head only: frozen parameters never
    reach the optimizer.
    """
    return torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)


# Task 6.5: the two phases of train_model in the transfer-learning tutorial
criterion = nn.CrossEntropyLoss()


def run_phase(model, loader, optimizer, device, phase):
    """The body of ``for phase in ['train', 'val']`` of train_model (adapter: one phase per call)."""
    dataset_sizes = {phase: len(loader.dataset)}  # adapter: the tutorial's dict of len(image_datasets[x])
    if phase == 'train':
        train_mode(model)  # adapter: the statement's model.train() that keeps frozen BatchNorm in eval
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


# Task 6.6: features of the frozen backbone, computed once (extract_features)
def extract_features(model, head, x, batch_size=500, device="cpu"):
    """What the frozen backbone gives the head: ``model``'s output with its head replaced by
    ``nn.Identity()``, in eval mode, without building a graph, ``batch_size`` images at a time.

    The head is put back before returning, and ``model`` is left in eval mode.

    Args:
        model: the network (on ``device``); ``head``: the name of its head attribute.
        x: float tensor (N, 3, H, W) on the CPU, already normalized.

    Returns:
        float32 tensor (N, num_features) on the CPU.
    """
    original = getattr(model, head)
    setattr(model, head, nn.Identity())
    model.eval()
    try:
        with torch.no_grad():
            features = [model(x[i:i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]
    finally:
        setattr(model, head, original)
    return torch.cat(features)


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


# Task 6.8: fine-tuning, everything unfrozen, a smaller learning rate for the backbone (unfreeze, finetune_optimizer, fine_tune)
def unfreeze(model):
    """Every parameter of ``model`` requires gradients again. Returns nothing."""
    for p in model.parameters():
        p.requires_grad = True


def finetune_optimizer(model, head, lr, backbone_lr):
    """``torch.optim.Adam`` with two parameter groups: the backbone's parameters (every parameter
    outside ``getattr(model, head)``) with learning rate ``backbone_lr``, then the head's with ``lr``.

    Returns:
        The optimizer; ``optimizer.param_groups[0]`` is the backbone, ``[1]`` the head.
    """
    head_ids = {id(p) for p in getattr(model, head).parameters()}
    backbone_params = [p for p in model.parameters() if id(p) not in head_ids]
    return torch.optim.Adam([{"params": backbone_params, "lr": backbone_lr},
                             {"params": list(getattr(model, head).parameters()), "lr": lr}])


def fine_tune(model, head, x_train, y_train, x_val, y_val, *, epochs, lr, backbone_lr, batch_size=64,
              device="cpu", seed=0, on_epoch=None):
    """Fine-tune ``model`` (for example the result of ``fit_frozen``): ``unfreeze`` it, build
    ``finetune_optimizer(model, head, lr, backbone_lr)`` and run ``epochs`` passes of
    ``train_one_epoch`` over shuffled batches (seeded by ``seed``), evaluating on the
    validation set after each.

    Args:
        x_train, x_val: float tensors (N, 3, H, W) from ``to_tensors``; y_train, y_val: int64 (N,).

    Returns:
        (model, history) as in ``fit_frozen``: "train_loss", "val_loss", "val_accuracy".
    """
    torch.manual_seed(seed)
    model.to(device)
    unfreeze(model)
    optimizer = finetune_optimizer(model, head, lr, backbone_lr)
    train_loader = make_loader(x_train, y_train, batch_size, shuffle=True, seed=seed)
    val_loader = make_loader(x_val, y_val, 500, shuffle=False)
    history = {"train_loss": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(epochs):
        history["train_loss"].append(train_one_epoch(model, train_loader, optimizer, device))
        val_loss, val_accuracy = evaluate(model, val_loader, device)
        history["val_loss"].append(val_loss)
        history["val_accuracy"].append(val_accuracy)
        if on_epoch is not None:
            on_epoch(epoch, history)
    return model, history
