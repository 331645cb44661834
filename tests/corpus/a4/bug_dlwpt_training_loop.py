"""REAL BUG: Deep Learning with PyTorch's chapter-8 loops, as an A4 submission.

Source: deep-learning-with-pytorch/dlwpt-code, p1ch8/1_convolution.ipynb (Stevens, Antiga, Viehmann), training_loop(n_epochs,
optimizer, model, loss_fn, train_loader): imgs/labels .to(device=device), forward, loss, zero_grad, backward,
step, loss_train += loss.item(), printed as loss_train / len(train_loader); validate(model, train_loader,
val_loader): correct/total under torch.no_grad() with torch.max(outputs, dim=1).
Adapted: the epoch body is train_one_epoch; validate is evaluate on one loader and also sums the loss.
The bugs, verbatim from the book: the epoch loss is the mean over BATCHES (loss_train / len(train_loader)),
there is no model.train() and no model.eval() (the book's Net has no dropout, the statement's LeNet may).
Must lose test_epoch_loss_is_the_mean_over_the_images and test_evaluate_on_a_known_model (public: the causes named
before submission), test_epoch_loss_and_weights_follow_the_statement, test_training_mode_and_one_step_per_batch and
test_evaluate_uses_eval_mode_and_builds_no_graph.
build_lenet, to_tensors, make_loader, fit: the reference solution's.
"""
import numpy as np
import torch
import torch.nn as nn

# Per-channel mean and standard deviation of the CIFAR-10 training images in [0, 1].
MEAN = (0.4913, 0.4821, 0.4465)
STD = (0.2452, 0.2428, 0.2606)


# Task 4.4 / 4.5: the loops of Deep Learning with PyTorch, chapter 8
loss_fn = nn.CrossEntropyLoss()


def train_one_epoch(model, loader, optimizer, device):
    train_loader = loader  # adapter: the book's name
    loss_train = 0.0
    for imgs, labels in train_loader:
        imgs = imgs.to(device=device)
        labels = labels.to(device=device)
        outputs = model(imgs)
        loss = loss_fn(outputs, labels)

        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

        loss_train += loss.item()
    return loss_train / len(train_loader)  # the value the book prints as "Training loss"


def evaluate(model, loader, device):
    correct = 0
    total = 0
    loss_sum = 0.0  # adapter: the statement also asks for the loss
    with torch.no_grad():
        for imgs, labels in loader:
            imgs = imgs.to(device=device)
            labels = labels.to(device=device)
            outputs = model(imgs)
            loss_sum += loss_fn(outputs, labels).item() * labels.shape[0]  # adapter
            _, predicted = torch.max(outputs, dim=1)
            total += labels.shape[0]
            correct += int((predicted == labels).sum())
    return loss_sum / total, correct / total  # adapter


