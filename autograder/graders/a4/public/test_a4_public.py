"""A4 public graders: the architecture, the tensors, the loop on small data.

Your functions run in a separate process; the probe network, the batches and the
optimizer below are built next to them. The hidden graders also train your fit()
on the real CIFAR-10 under a fixed budget and score the test accuracy themselves.
"""
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from autograder.feedback import T, check_equal, fail
from autograder.gradcheck import check_close
from autograder.graders.cifar_checks import check_history, synthetic_tensors, tensor_of
from autograder.sandbox.helpers import a4 as local_probes

CASES = Path(__file__).with_name("to_tensors_cases.npz")  # what to_tensors must return for four images
LENET_LAYERS = ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Flatten",
                "Linear", "ReLU", "Linear", "ReLU", "Linear"]


@pytest.mark.task("4.1")
def test_lenet_layers_and_parameters(cnn, probes):
    """LeNet of the PUC deck: layer sequence, 62,006 parameters, logits (N, 10)"""
    model = probes.describe(cnn.build_lenet())
    check_equal(model["layers"], LENET_LAYERS, call="build_lenet()",
                hint=T("conv 3->6 k5, ReLU, pool 2, conv 6->16 k5, ReLU, pool 2, flatten, FC 120, ReLU, FC 84, ReLU, FC 10.",
                       "conv 3->6 k5, ReLU, pool 2, conv 6->16 k5, ReLU, pool 2, flatten, FC 120, ReLU, FC 84, ReLU, FC 10."))
    check_equal(model["parameters"], 62006, call="parameters of build_lenet()",
                hint=T("456 + 2416 + 48120 + 10164 + 850 (see A1).", "456 + 2416 + 48120 + 10164 + 850 (ver A1)."))
    check_equal(model["output_shape"], [2, 10], call="build_lenet()(zeros(2, 3, 32, 32)).shape")


@pytest.mark.task("4.2")
def test_to_tensors_layout_and_normalization(cnn):
    """to_tensors: (N, 3, 32, 32) float32, per-channel (x/255 - mean)/std; int64 labels"""
    with np.load(CASES) as cases:
        images, labels, expected_x = cases["images"], cases["labels"], torch.from_numpy(cases["x_statement"])
    x, y = cnn.to_tensors(images, labels)
    x = tensor_of(x, "to_tensors(images, labels)[0]")
    if x.dtype != torch.float32:
        fail(T("to_tensors returned x of dtype {t}; expected float32.", "to_tensors devolvió x de dtype {t}; se esperaba float32.")
             .format(t=x.dtype))
    check_close(x.numpy(), expected_x.numpy(), name="x", call="to_tensors(images, labels)", rtol=1e-5, atol=1e-5,
                hint=T("channels first (permute(0, 3, 1, 2)), divide by 255, then subtract MEAN[c] and divide by STD[c].",
                       "canales primero (permute(0, 3, 1, 2)), divide entre 255 y luego resta MEAN[c] y divide entre STD[c]."))
    check_equal(str(tensor_of(y, "to_tensors(images, labels)[1]").dtype), "torch.int64", call="to_tensors(...)[1].dtype")


@pytest.mark.task("4.3")
def test_loader_keeps_each_image_with_its_label(cnn, probes):
    """make_loader: every (image, label) pair exactly once, batches of the given size"""
    x, y = synthetic_tensors()
    batches = probes.batches_of(cnn.make_loader(x, y, 16, shuffle=True, seed=0))
    check_equal([len(b[1]) for b in batches], [16] * 4, call="batch sizes of make_loader(x, y, 16, shuffle=True)")
    xs, ys = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    order = [int(np.argmin(((x - xi) ** 2).flatten(1).sum(1))) for xi in xs]
    check_equal(sorted(order), list(range(64)), call="images of make_loader(...)",
                hint=T("each image must appear once per epoch.", "cada imagen debe aparecer una vez por época."))
    if not torch.equal(ys, y[order]):
        fail(T("make_loader separated images from their labels: a shuffled image arrived with another image's label.",
               "make_loader separó imágenes y etiquetas: una imagen barajada llegó con la etiqueta de otra."),
             T("shuffle (x, y) pairs together, for example with a TensorDataset and DataLoader(shuffle=True).",
               "baraja los pares (x, y) juntos, por ejemplo con TensorDataset y DataLoader(shuffle=True)."))


@pytest.mark.task("4.4")
def test_training_epochs_lower_the_loss_on_a_small_set(cnn, probes):
    """train_one_epoch: five epochs on 64 images lower the training loss, returned as a float"""
    x, y = synthetic_tensors()
    model = probes.small_net()
    optimizer = probes.sgd(model, 0.05, 0.9)
    losses = [cnn.train_one_epoch(model, probes.tracked_batches(x, y, 16), optimizer, "cpu") for _ in range(5)]
    if not all(type(v) is float for v in losses):
        fail(T("train_one_epoch returned {v!r}; expected the mean loss as a Python float (loss.item()).",
               "train_one_epoch devolvió {v!r}; se esperaba la pérdida media como float de Python (loss.item()).")
             .format(v=losses[0]))
    if not losses[-1] < losses[0]:
        fail(T("the training loss did not go down over 5 epochs: {l}.", "la pérdida no bajó en 5 épocas: {l}.")
             .format(l=[round(v, 4) for v in losses]),
             T("each step: optimizer.zero_grad(), forward, loss, loss.backward(), optimizer.step().",
               "en cada paso: optimizer.zero_grad(), forward, pérdida, loss.backward(), optimizer.step()."))


@pytest.mark.task("4.5")
def test_evaluate_on_a_known_model(cnn, probes):
    """evaluate: the mean loss and the accuracy of a fixed model"""
    x, y = synthetic_tensors()
    model = local_probes.small_net().eval()  # the same network as the one built next to your code
    with torch.no_grad():
        logits = model(x)
    expected = (nn.functional.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item())
    got = cnn.evaluate(probes.small_net(), probes.tracked_batches(x, y, 10), "cpu")
    if not (isinstance(got, tuple) and len(got) == 2 and all(type(v) in (float, int) for v in got)):
        fail(T("evaluate returned {g!r}; expected a (loss, accuracy) tuple of floats.",
               "evaluate devolvió {g!r}; se esperaba una tupla (loss, accuracy) de floats.").format(g=got))
    check_close(np.array(got, dtype=float), np.array(expected), name="(loss, accuracy)",
                call="evaluate(model, loader, 'cpu')", rtol=1e-5,
                hint=T("average over examples, not over batches (the last batch is smaller); accuracy in [0, 1].",
                       "promedia sobre ejemplos, no sobre batches (el último es más pequeño); accuracy en [0, 1]."))


@pytest.mark.task("4.6")
def test_fit_returns_a_history_per_epoch(cnn, probes, synthetic):
    """fit: a trained model and a history with one value per epoch, on the validation set"""
    images, labels = synthetic
    model, history = cnn.fit(images[16:], labels[16:], images[:16], labels[:16], epochs=2, lr=0.01, batch_size=16, seed=0)
    check_history(history, ["train_loss", "val_accuracy", "val_loss"], 2, "fit(...)")
    check_equal(probes.describe(model, (1, 3, 32, 32))["output_shape"], [1, 10],
                call="fit(...)[0](zeros(1, 3, 32, 32)).shape")
