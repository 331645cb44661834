"""A4 public graders: the architecture, the tensors, the loop on small data.

Your functions run in a separate process; the probe network, the batches and the
optimizer below are built next to them. The hidden graders also train your fit()
on the real CIFAR-10 under a fixed budget and score the test accuracy themselves.
"""
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from autograder.feedback import T, check_equal, fail
from autograder.gradcheck import check_close
from autograder.graders.cifar_checks import check_history, synthetic_tensors, tensor_of
from autograder.sandbox.helpers import a4 as local_probes  # the same probe network as the one built next to your code

CASES = Path(__file__).with_name("to_tensors_cases.npz")  # what to_tensors must return for four images
LENET_SHAPES = [[6, 3, 5, 5], [6], [16, 6, 5, 5], [16], [120, 400], [120], [84, 120], [84], [10, 84], [10]]
F = nn.functional


def lenet_logits(state, x: torch.Tensor) -> torch.Tensor:
    """The statement's LeNet computed here, in eval mode, from the tensors of a returned state_dict (in order)."""
    w = [t for _, t in state]
    with torch.no_grad():
        x = F.max_pool2d(F.relu(F.conv2d(x, w[0], w[1])), 2)
        x = F.max_pool2d(F.relu(F.conv2d(x, w[2], w[3])), 2).flatten(1)
        return F.linear(F.relu(F.linear(F.relu(F.linear(x, w[4], w[5])), w[6], w[7])), w[8], w[9])


def state_shapes(state):
    """[shape, ...] of a returned state_dict, or None if it is not a list of (name, tensor) pairs."""
    if not (isinstance(state, list) and all(isinstance(i, list) and len(i) == 2 and isinstance(i[1], torch.Tensor)
                                            for i in state)):
        return None
    return [list(t.shape) for _, t in state]


@pytest.mark.task("4.1")
def test_lenet_layers_and_parameters(cnn, probes, common):
    """LeNet of the PUC deck: its weights and biases in order (62,006 parameters), and its logits for known inputs
    es: LeNet de las transparencias de la PUC: sus pesos y sesgos en orden (62.006 parámetros) y sus logits para entradas conocidas
    """
    model = cnn.build_lenet()
    state = common.state(model)
    shapes = state_shapes(state)
    layers = probes.describe(model).get("layers") if shapes != LENET_SHAPES else None  # only shapes the hint
    check_equal(shapes, LENET_SHAPES, call="[p.shape for p in build_lenet().state_dict().values()]",
                hint=T("conv 3->6 k5, ReLU, pool 2, conv 6->16 k5, ReLU, pool 2, flatten, FC 120, ReLU, FC 84, ReLU, FC 10 "
                       "(your layers: {l}).", "conv 3->6 k5, ReLU, pool 2, conv 6->16 k5, ReLU, pool 2, flatten, FC 120, "
                       "ReLU, FC 84, ReLU, FC 10 (tus capas: {l}).").format(l=layers))
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    out = tensor_of(probes.forward(model, x, 0, False), "build_lenet()(x)")
    check_equal(list(out.shape), [4, 10], call="build_lenet()(x).shape for x of shape (4, 3, 32, 32)")
    check_close(out.numpy(), lenet_logits(state, x).numpy(), name="logits", call="build_lenet().eval()(x)",
                rtol=1e-4, atol=1e-5,
                hint=T("the layers in the statement's order: ReLU after each convolution and each hidden FC layer, "
                       "max-pool 2 after each ReLU of a convolution, flatten before the first FC layer.",
                       "las capas en el orden del enunciado: ReLU tras cada convolución y cada FC oculta, max-pool 2 "
                       "tras la ReLU de cada convolución, flatten antes de la primera FC."))


@pytest.mark.task("4.2")
def test_to_tensors_layout_and_normalization(cnn):
    """to_tensors: (N, 3, 32, 32) float32, per-channel (x/255 - mean)/std; int64 labels
    es: to_tensors: (N, 3, 32, 32) float32, (x/255 - mean)/std por canal; etiquetas int64
    """
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
    """make_loader: every (image, label) pair exactly once, batches of the given size
    es: make_loader: cada par (imagen, etiqueta) exactamente una vez, en lotes del tamaño dado
    """
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
    """train_one_epoch: five epochs on 64 images lower the loss of the network (measured here), returned as a float
    es: train_one_epoch: cinco épocas con 64 imágenes reducen la pérdida de la red (medida aquí), devuelta como float
    """
    x, y = synthetic_tensors()
    model = probes.small_net()
    optimizer = probes.sgd(model, 0.05, 0.9)
    losses = [cnn.train_one_epoch(model, probes.tracked_batches(x, y, 16), optimizer, "cpu") for _ in range(5)]
    if not all(type(v) is float for v in losses):
        fail(T("train_one_epoch returned {v!r}; expected the mean loss as a Python float (loss.item()).",
               "train_one_epoch devolvió {v!r}; se esperaba la pérdida media como float de Python (loss.item()).")
             .format(v=losses[0]))
    if not losses[-1] < losses[0]:
        fail(T("the training loss train_one_epoch returned did not go down over 5 epochs: {l}.",
               "la pérdida que devolvió train_one_epoch no bajó en 5 épocas: {l}.")
             .format(l=[round(v, 4) for v in losses]),
             T("each step: optimizer.zero_grad(), forward, loss, loss.backward(), optimizer.step().",
               "en cada paso: optimizer.zero_grad(), forward, pérdida, loss.backward(), optimizer.step()."))
    net = local_probes.small_net()
    before = nn.functional.cross_entropy(net(x), y).item()
    with torch.no_grad():
        for p, value in zip(net.parameters(), probes.parameters(model)["values"]):
            p.copy_(value)
    after = nn.functional.cross_entropy(net(x), y).item()
    if not after < before:
        fail(T("after 5 epochs the network's loss on the 64 images went from {b:.4f} to {a:.4f} (measured by the grader).",
               "tras 5 épocas la pérdida de la red en las 64 imágenes pasó de {b:.4f} a {a:.4f} (medida por el corrector).")
             .format(b=before, a=after),
             T("each step: optimizer.zero_grad(), forward, loss, loss.backward(), optimizer.step().",
               "en cada paso: optimizer.zero_grad(), forward, pérdida, loss.backward(), optimizer.step()."))


def per_image_losses(x: torch.Tensor, y: torch.Tensor, dropout: float = 0.0):
    """(cross-entropy of each image, whether each is right) of the probe network in eval mode, computed here."""
    model = local_probes.small_net(dropout).eval()  # the same network as the one built next to your code
    with torch.no_grad():
        logits = model(x)
    return nn.functional.cross_entropy(logits, y, reduction="none"), (logits.argmax(1) == y).float()


def batch_means(values: torch.Tensor, batch: int) -> float:
    """The mean of the per-batch means: what averaging over batches instead of images gives."""
    return float(np.mean([chunk.mean().item() for chunk in values.split(batch)]))


AVERAGE_OVER_IMAGES = T("average over the images, not over the batches: add loss.item() * len(yb) per batch and divide "
                        "by the number of images (len(loader.dataset)); the last batch is smaller.",
                        "promedia sobre las imágenes, no sobre los batches: suma loss.item() * len(yb) por batch y "
                        "divide entre el número de imágenes (len(loader.dataset)); el último batch es más pequeño.")


@pytest.mark.task("4.4")
def test_epoch_loss_is_the_mean_over_the_images(cnn, probes):
    """train_one_epoch returns the mean loss over the epoch's images (60 images in batches of 16, 16, 16 and 12)
    es: train_one_epoch devuelve la pérdida media sobre las imágenes de la época (60 imágenes en batches de 16, 16, 16 y 12)
    """
    x, y = synthetic_tensors()
    x, y = x[:60], y[:60]
    model = probes.small_net()
    call = "train_one_epoch(model, loader of 60 images in batches of 16, SGD(lr=0), 'cpu')"
    got = cnn.train_one_epoch(model, probes.tracked_batches(x, y, 16), probes.sgd(model, 0.0), "cpu")
    if type(got) is not float:
        fail(T("{c} returned {v!r}; expected the mean loss as a Python float (loss.item()).",
               "{c} devolvió {v!r}; se esperaba la pérdida media como float de Python (loss.item()).").format(c=call, v=got))
    losses, _ = per_image_losses(x, y)  # lr = 0: the weights stay those of the probe network all epoch
    expected = losses.mean().item()
    if not math.isclose(got, expected, rel_tol=1e-5, abs_tol=1e-6):
        wrong = math.isclose(got, batch_means(losses, 16), rel_tol=1e-5, abs_tol=1e-6)
        fail(T("{c} returned {g:.6f}; the mean loss over the 60 images is {e:.6f}{w}.",
               "{c} devolvió {g:.6f}; la pérdida media sobre las 60 imágenes es {e:.6f}{w}.").format(
            c=call, g=got, e=expected, w=T(" (you returned the mean of the 4 batch means)",
                                           " (devolviste la media de las 4 medias de batch)") if wrong else ""),
             AVERAGE_OVER_IMAGES if wrong else
             T("the mean over the epoch's images of the loss of each batch, taken before its optimizer.step().",
               "la media sobre las imágenes de la época de la pérdida de cada batch, medida antes de su optimizer.step()."))


@pytest.mark.task("4.5")
def test_evaluate_on_a_known_model(cnn, probes):
    """evaluate: the mean loss and the accuracy of a fixed model with dropout, handed over in train mode
    es: evaluate: la pérdida media y la accuracy de un modelo fijo con dropout, entregado en modo train
    """
    x, y = synthetic_tensors()
    losses, right = per_image_losses(x, y, 0.5)
    expected = (losses.mean().item(), right.mean().item())
    model = probes.small_net(0.5)
    probes.set_mode(model, True)  # as fit hands it over after an epoch of training
    got = cnn.evaluate(model, probes.tracked_batches(x, y, 10), "cpu")
    if not (isinstance(got, tuple) and len(got) == 2 and all(type(v) in (float, int) for v in got)):
        fail(T("evaluate returned {g!r}; expected a (loss, accuracy) tuple of floats.",
               "evaluate devolvió {g!r}; se esperaba una tupla (loss, accuracy) de floats.").format(g=got))
    by_batches = (batch_means(losses, 10), batch_means(right, 10))
    if any(math.isclose(g, b, rel_tol=1e-5) and not math.isclose(g, e, rel_tol=1e-5)
           for g, b, e in zip(got, by_batches, expected)):
        hint = AVERAGE_OVER_IMAGES  # the loss, the accuracy or both averaged over the batches
    else:
        hint = T("call model.eval() before evaluating: this model has dropout, which must be off in evaluation "
                 "(and use torch.no_grad()); accuracy in [0, 1].",
                 "llama a model.eval() antes de evaluar: este modelo tiene dropout, que debe estar apagado al evaluar "
                 "(y usa torch.no_grad()); accuracy en [0, 1].")
    check_close(np.array(got, dtype=float), np.array(expected), name="(loss, accuracy)",
                call="evaluate(model with dropout 0.5 in train mode, loader, 'cpu')", rtol=1e-5, hint=hint)


@pytest.mark.task("4.6")
def test_fit_returns_a_history_per_epoch(cnn, probes, common, synthetic):
    """fit: a trained LeNet and a history per epoch whose last validation accuracy is the returned model's
    es: fit: una LeNet entrenada y un historial por época cuya última accuracy de validación es la del modelo devuelto
    """
    images, labels = synthetic
    result = cnn.fit(images[16:], labels[16:], images[:16], labels[:16], epochs=2, lr=0.01, batch_size=16, seed=0)
    if not (isinstance(result, tuple) and len(result) == 2):
        fail(T("fit returned {v!r}; expected a tuple (model, history).",
               "fit devolvió {v!r}; se esperaba una tupla (model, history).").format(v=result))
    model, history = result
    check_history(history, ["train_loss", "val_accuracy", "val_loss"], 2, "fit(...)")
    state = common.state(model)
    check_equal(state_shapes(state), LENET_SHAPES, call="[p.shape for p in fit(...)[0].state_dict().values()]")
    probes.seed(0)  # fit(seed=0) seeds torch so before building its LeNet
    untouched = common.state(cnn.build_lenet())
    if all(torch.equal(a[1], b[1]) for a, b in zip(state, untouched)):
        fail(T("the model fit returned has the weights of a freshly built LeNet: it was not trained.",
               "el modelo que devolvió fit tiene los pesos de una LeNet recién creada: no se entrenó."))
    x, y = cnn.to_tensors(images[:16], labels[:16])  # your normalization: this test checks fit, not to_tensors
    measured = float((lenet_logits(state, tensor_of(x, "to_tensors(val_images, val_labels)[0]")).argmax(1)
                      == torch.as_tensor(labels[:16])).float().mean())
    reported = history["val_accuracy"][-1]
    if not (type(reported) in (float, int) and abs(reported - measured) < 1e-6):
        fail(T("fit's history ends with val_accuracy {r!r}, but the returned model scores {m:.4f} on the 16 "
               "validation images (measured by the grader from its weights).",
               "el historial de fit termina con val_accuracy {r!r}, pero el modelo devuelto obtiene {m:.4f} en las 16 "
               "imágenes de validación (medido por el corrector a partir de sus pesos).").format(r=reported, m=measured),
             T("evaluate on the validation set after each epoch and append what evaluate returns.",
               "evalúa en el conjunto de validación tras cada época y añade lo que devuelve evaluate."))
