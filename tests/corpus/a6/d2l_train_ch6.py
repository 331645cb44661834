"""Corpus: Dive into Deep Learning's training loop, as an A6 submission.

Source: d2l-ai/d2l-en, chapter_convolutional-neural-networks/lenet.md (train_ch6's epoch body,
evaluate_accuracy_gpu) and d2l/torch.py (Accumulator, accuracy).
Adapted: train_mode(net) where d2l calls net.train() (A6's frozen BatchNorm); evaluate_accuracy_gpu also sums
the loss and returns (loss, accuracy).
fit_frozen and the other functions: the reference solution's.
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


# Task 6.5: the loops of Dive into Deep Learning (PyTorch edition)


class Accumulator:  #@save
    """For accumulating sums over `n` variables."""
    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def reset(self):
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx):
        return self.data[idx]


def accuracy(y_hat, y):  #@save
    """Compute the number of correct predictions."""
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())


loss = nn.CrossEntropyLoss()


def train_one_epoch(model, loader, optimizer, device):
    net, train_iter = model, loader  # adapter: d2l's names
    # Sum of training loss, sum of training accuracy, no. of examples
    metric = Accumulator(3)
    train_mode(net)  # adapter: the statement's net.train() that keeps frozen BatchNorm in eval
    for i, (X, y) in enumerate(train_iter):
        optimizer.zero_grad()
        X, y = X.to(device), y.to(device)
        y_hat = net(X)
        l = loss(y_hat, y)
        l.backward()
        optimizer.step()
        with torch.no_grad():
            metric.add(l * X.shape[0], accuracy(y_hat, y), X.shape[0])
        train_l = metric[0] / metric[2]
        train_acc = metric[1] / metric[2]
    return train_l  # adapter


def evaluate(model, loader, device):
    """d2l's evaluate_accuracy_gpu, with the loss summed too (adapter)."""
    net, data_iter = model, loader  # adapter: d2l's names
    if isinstance(net, nn.Module):
        net.eval()  # Set the model to evaluation mode
        if not device:
            device = next(iter(net.parameters())).device
    # No. of correct predictions, no. of predictions, sum of losses (adapter)
    metric = Accumulator(3)
    with torch.no_grad():
        for X, y in data_iter:
            if isinstance(X, list):
                # Required for BERT Fine-tuning (to be covered later)
                X = [x.to(device) for x in X]
            else:
                X = X.to(device)
            y = y.to(device)
            y_hat = net(X)
            metric.add(accuracy(y_hat, y), y.numel(), loss(y_hat, y) * y.numel())
    return metric[2] / metric[1], metric[0] / metric[1]  # adapter


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


# Task 6.7: the frozen variant end to end (fit_frozen)
def fit_frozen(train_images, train_labels, val_images, val_labels, *, backbone=BACKBONE, size=SIZE,
               epochs, lr, batch_size=128, device="cpu", seed=0, on_epoch=None):
    """Transfer learning with a frozen backbone: steps a, b and c, watched on a validation set.

    Seeds torch with ``seed``, loads the pretrained ``backbone`` (step a), replaces its head
    (step b, after seeding, so the same seed gives the same head), freezes the rest and
    builds the optimizer with ``make_optimizer(model, lr)`` (step c). As the frozen backbone
    with its BatchNorm in eval mode is a fixed function, its features are computed once
    (``extract_features``) and only the head is trained on them, ``epochs`` passes of
    ``train_one_epoch`` over shuffled batches (seeded by ``seed``), evaluated on the
    validation features after every epoch.

    The validation images are part of the training data set, held out from training: watch
    them to see how training goes, and keep the test set for the very end (the grader
    measures the test accuracy itself).

    Args:
        train_images, val_images: uint8 arrays (N, 32, 32, 3); train_labels, val_labels: (N,).
        backbone: name for ``load_backbone``; size: input side for ``to_tensors``.
        epochs, lr, batch_size: training budget of the head.
        device: where the model and batches live ("cpu" or "cuda").
        on_epoch: if given, called as ``on_epoch(epoch, history)`` after each epoch.

    Returns:
        (model, history): the whole network (frozen backbone + trained head, on ``device``,
        in eval mode) and a dict of lists, one value per epoch: "train_loss" (what
        train_one_epoch returned), "val_loss" and "val_accuracy" (what evaluate returned on
        the validation set).
    """
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
    train_loader = make_loader(f_train, y_train, batch_size, shuffle=True, seed=seed)
    val_loader = make_loader(f_val, y_val, 1000, shuffle=False)
    history = {"train_loss": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(epochs):
        history["train_loss"].append(train_one_epoch(head, train_loader, optimizer, device))
        val_loss, val_accuracy = evaluate(head, val_loader, device)
        history["val_loss"].append(val_loss)
        history["val_accuracy"].append(val_accuracy)
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
