"""A6 public graders: each step on a small stand-in network, and fit_frozen on a few images.

Your functions run in a separate process; the stand-in network, the batches and the
optimizers below are built next to them. The hidden graders also run your functions on
the real pretrained EfficientNet-Lite0, check that frozen weights and BatchNorm statistics
stay bit-identical, train fit_frozen on 4,500 real CIFAR-10 images (validating on 500 more),
score the test accuracy themselves and compare it with the A4 network trained from scratch.
"""
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from autograder.backbones import IMAGENET_MEAN, IMAGENET_STD, TF_MEAN, TF_STD
from autograder.feedback import T, check_equal, fail
from autograder.gradcheck import check_close
from autograder.graders.cifar_checks import check_history, synthetic_tensors, tensor_of
from autograder.sandbox.helpers import a6 as local_probes

CASES = Path(__file__).with_name("to_tensors_cases.npz")  # what to_tensors must return for four images
HEAD = ["classifier.bias", "classifier.weight"]
FREEZE_HINT = T("requires_grad = False for every parameter of the model, then True again for those of "
                "getattr(model, head).", "requires_grad = False para todos los parámetros del modelo y de nuevo True "
                "para los de getattr(model, head).")


def batches(x, y, size):
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(y), size)]


@pytest.mark.task("6.1")
@pytest.mark.parametrize("mean, std, size", [(TF_MEAN, TF_STD, 64), (IMAGENET_MEAN, IMAGENET_STD, 32)],
                         ids=["lite0-64", "imagenet-32"])
def test_to_tensors_resizes_and_normalizes(tl, request, mean, std, size):
    """to_tensors: (N, 3, size, size) float32, bilinear resize, (x/255 - mean[c])/std[c]; int64 labels"""
    with np.load(CASES) as cases:
        images, labels = cases["images"], cases["labels"]
        expected_x = torch.from_numpy(cases["x_" + request.node.callspec.id])
    result = tl.to_tensors(images, labels, mean, std, size)
    if not (isinstance(result, tuple) and len(result) == 2):
        fail(T("to_tensors returned {v!r}; expected a tuple (x, y).", "to_tensors devolvió {v!r}; se esperaba una tupla (x, y).")
             .format(v=result))
    x, y = result
    if not isinstance(x, torch.Tensor) or x.dtype != torch.float32:
        fail(T("to_tensors returned x of type {t}; expected a float32 tensor.",
               "to_tensors devolvió x de tipo {t}; se esperaba un tensor float32.").format(t=getattr(x, "dtype", type(x))))
    check_equal(tuple(x.shape), (4, 3, size, size), call=f"to_tensors(images, labels, mean, std, {size}).shape",
                hint=T("channels first, then F.interpolate(x, size=(size, size), mode='bilinear', align_corners=False).",
                       "canales primero y luego F.interpolate(x, size=(size, size), mode='bilinear', align_corners=False)."))
    check_close(x.numpy(), expected_x.numpy(), name="x", call=f"to_tensors(images, labels, {mean}, {std}, {size})",
                rtol=1e-5, atol=1e-5,
                hint=T("divide by 255, resize, then subtract mean[c] and divide by std[c]: the backbone's own "
                       "normalization from its ImageNet training.",
                       "divide entre 255, redimensiona y luego resta mean[c] y divide entre std[c]: la normalización "
                       "con la que se entrenó la red en ImageNet."))
    check_equal(str(tensor_of(y, "to_tensors(...)[1]").dtype), "torch.int64", call="to_tensors(...)[1].dtype")


@pytest.mark.task("6.2")
def test_replace_head_gives_10_outputs(tl, probes):
    """replace_head: a new nn.Linear(num_features, 10) at the head attribute; logits (N, 10)"""
    backbone = probes.tiny_backbone()
    head = tl.replace_head(backbone, 10)
    check_equal(probes.head_info(backbone, head)["is_returned"], True,
                call="getattr(model, backbone.head) is replace_head(backbone, 10)",
                hint=T("setattr(backbone.model, backbone.head, new_head) and return new_head.",
                       "setattr(backbone.model, backbone.head, nueva_cabeza) y devuelve nueva_cabeza."))
    check_equal(probes.output_shape(backbone.get("model"), [2, 3, 32, 32]), [2, 10],
                call="model(zeros(2, 3, 32, 32)).shape after replace_head(backbone, 10)",
                hint=T("the ImageNet head has 1000 outputs; CIFAR-10 needs 10: nn.Linear(backbone.num_features, 10).",
                       "la cabeza de ImageNet tiene 1000 salidas; CIFAR-10 necesita 10: nn.Linear(backbone.num_features, 10)."))


@pytest.mark.task("6.3")
def test_freeze_backbone_leaves_only_the_head_trainable(tl, probes):
    """freeze_backbone: requires_grad False outside the head, True in the head"""
    model = probes.tiny_backbone().get("model")
    tl.freeze_backbone(model, "classifier")
    check_equal(probes.trainable(model), HEAD, call="trainable parameters after freeze_backbone", hint=FREEZE_HINT)


@pytest.mark.task("6.3")
def test_train_mode_keeps_frozen_batchnorm_in_eval(tl, probes):
    """train_mode: frozen BatchNorm layers in eval mode, the rest (head, dropout) training"""
    model = probes.tiny_backbone().get("model")
    probes.set_trainable(model, HEAD)
    tl.train_mode(model)
    modes = {name: training for name, (kind, training) in probes.modes(model).items()
             if kind in ("BatchNorm2d", "Linear")}
    check_equal(modes, {"features.1": False, "features.4": False, "classifier": True},
                call="module.training after train_mode(frozen model)",
                hint=T("model.train(), then module.eval() for every BatchNorm whose parameters are all frozen: "
                       "in train mode BatchNorm overwrites its ImageNet running mean and variance.",
                       "model.train() y luego module.eval() para cada BatchNorm con todos sus parámetros congelados: "
                       "en modo entrenamiento BatchNorm sobrescribe su media y varianza de ImageNet."))


@pytest.mark.task("6.4")
def test_optimizer_gets_only_the_trainable_parameters(tl, probes):
    """make_optimizer after freezing: only the head's parameters, at the given learning rate"""
    model = probes.tiny_backbone().get("model")
    probes.set_trainable(model, HEAD)
    groups = probes.param_groups(model, tl.make_optimizer(model, 1e-3))
    check_equal(sorted(n for _, names in groups for n in names), HEAD,
                call="parameters in make_optimizer(frozen model, 1e-3)",
                hint=T("pass only [p for p in model.parameters() if p.requires_grad].",
                       "pasa solo [p for p in model.parameters() if p.requires_grad]."))
    check_equal([lr for lr, _ in groups], [1e-3], call="learning rates of the optimizer")


@pytest.mark.task("6.5")
def test_training_epochs_lower_the_loss(tl, probes):
    """train_one_epoch: five epochs on 64 images lower the training loss"""
    x, y = synthetic_tensors()
    model = probes.tiny_backbone().get("model")
    optimizer = probes.adam(model, 1e-2)
    losses = [tl.train_one_epoch(model, batches(x, y, 16), optimizer, "cpu") for _ in range(5)]
    if not all(isinstance(v, float) for v in losses):
        fail(T("train_one_epoch returned {v!r}; expected the mean loss as a Python float (loss.item()).",
               "train_one_epoch devolvió {v!r}; se esperaba la pérdida media como float de Python (loss.item()).")
             .format(v=losses[0]))
    if not losses[-1] < losses[0]:
        fail(T("the training loss did not go down over 5 epochs: {l}; expected the last below the first.",
               "la pérdida no bajó en 5 épocas: {l}; se esperaba la última por debajo de la primera.")
             .format(l=[round(v, 4) for v in losses]),
             T("each step: optimizer.zero_grad(), forward, loss, loss.backward(), optimizer.step().",
               "en cada paso: optimizer.zero_grad(), forward, pérdida, loss.backward(), optimizer.step()."))


@pytest.mark.task("6.5")
def test_evaluate_on_a_known_model(tl, probes):
    """evaluate: the mean loss and the accuracy of a fixed model"""
    x, y = synthetic_tensors()
    model = local_probes.tiny_backbone().model.eval()  # the same network as the one built next to your code
    with torch.no_grad():
        logits = model(x)
    expected = (nn.functional.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item())
    got = tl.evaluate(probes.tiny_backbone().get("model"), batches(x, y, 10), "cpu")
    if not (isinstance(got, tuple) and len(got) == 2 and all(type(v) in (float, int) for v in got)):
        fail(T("evaluate returned {g!r}; expected a (loss, accuracy) tuple of floats.",
               "evaluate devolvió {g!r}; se esperaba una tupla (loss, accuracy) de floats.").format(g=got))
    check_close(np.array(got, dtype=float), np.array(expected), name="(loss, accuracy)", call="evaluate(model, loader, 'cpu')",
                rtol=1e-5, hint=T("average over examples, not over batches (the last batch is smaller); accuracy in [0, 1].",
                                  "promedia sobre ejemplos, no sobre batches (el último es más pequeño); accuracy en [0, 1]."))


@pytest.mark.task("6.6")
def test_extract_features_are_the_input_of_the_head(tl, probes):
    """extract_features: the backbone's output before the head, (N, num_features); head put back"""
    x, _ = synthetic_tensors()
    local = local_probes.tiny_backbone().model.eval()  # the same network as the one built next to your code
    with torch.no_grad():
        expected = local.features(x)
    model = probes.tiny_backbone().get("model")
    head = model.get("classifier")
    got = tensor_of(tl.extract_features(model, "classifier", x, batch_size=20),
                    "extract_features(model, 'classifier', x, batch_size=20)")
    check_equal(tuple(got.shape), (64, 16), call="extract_features(model, 'classifier', x, batch_size=20).shape",
                hint=T("replace the head by nn.Identity() while computing: the output is then the head's input.",
                       "sustituye la cabeza por nn.Identity() mientras calculas: la salida es entonces la entrada de la cabeza."))
    check_close(got.numpy(), expected.numpy(), name="features", call="extract_features(model, 'classifier', x)",
                rtol=1e-5, atol=1e-6)
    check_equal(probes.same(model.get("classifier"), head), True,
                call="model.classifier is the original head after extract_features",
                hint=T("put the head back (setattr) before returning.", "vuelve a poner la cabeza (setattr) antes de devolver."))


@pytest.mark.task("6.7")
def test_fit_frozen_on_a_small_set(tl, probes, synthetic):
    """fit_frozen: a model with 10 outputs and a history with one value per epoch, on the validation set"""
    images, labels = synthetic
    model, history = tl.fit_frozen(images[16:], labels[16:], images[:16], labels[:16], size=32, epochs=2, lr=1e-3,
                                   batch_size=16, seed=0)
    check_history(history, ["train_loss", "val_accuracy", "val_loss"], 2, "fit_frozen(...)")
    check_equal(probes.output_shape(model, [1, 3, 32, 32]), [1, 10], call="fit_frozen(...)[0](zeros(1, 3, 32, 32)).shape",
                hint=T("step b: replace_head before training.", "paso b: replace_head antes de entrenar."))


@pytest.mark.task("6.8")
def test_finetune_optimizer_has_two_learning_rates(tl, probes):
    """finetune_optimizer: group 0 the backbone at backbone_lr, group 1 the head at lr"""
    model = probes.tiny_backbone().get("model")
    groups = probes.param_groups(model, tl.finetune_optimizer(model, "classifier", lr=1e-3, backbone_lr=1e-4))
    names = probes.parameter_names(model)
    got = [(lr, sorted(params)) for lr, params in groups]
    expected = [(1e-4, sorted(n for n in names if not n.startswith("classifier."))), (1e-3, HEAD)]
    check_equal(got, expected, call="[(lr, parameters) of each group] of finetune_optimizer(model, 'classifier', 1e-3, 1e-4)",
                hint=T("two parameter groups: [{'params': backbone parameters, 'lr': backbone_lr}, "
                       "{'params': head parameters, 'lr': lr}]: the pretrained weights move less than the new head.",
                       "dos grupos de parámetros: [{'params': parámetros de la red base, 'lr': backbone_lr}, "
                       "{'params': parámetros de la cabeza, 'lr': lr}]: los pesos preentrenados se mueven menos que la cabeza nueva."))
