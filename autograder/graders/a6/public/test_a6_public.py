"""A6 public graders: each step on a small stand-in network, and fit_frozen on a few images.

Your functions run in a separate process; the stand-in network, the DataLoaders and the
optimizers below are built next to them, and the grader reads back the network's weights and
compares them with the same steps run on its own copy. The hidden graders also run your functions on
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


@pytest.mark.task("6.1")
@pytest.mark.parametrize("mean, std, size", [(TF_MEAN, TF_STD, 64), (IMAGENET_MEAN, IMAGENET_STD, 32)],
                         ids=["lite0-64", "imagenet-32"])
def test_to_tensors_resizes_and_normalizes(tl, request, mean, std, size):
    """to_tensors: (N, 3, size, size) float32, bilinear resize, (x/255 - mean[c])/std[c]; int64 labels
    es: to_tensors: (N, 3, size, size) float32, redimensionado bilineal, (x/255 - mean[c])/std[c]; etiquetas int64
    """
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


def state_of(common, model, call):
    """The state of a model in the student process as a dict of plain tensors."""
    state = common.state(model)
    if not (isinstance(state, list) and all(isinstance(i, list) and len(i) == 2 for i in state)):
        fail(T("{c} has no state_dict the grader can read.", "{c} no tiene un state_dict que el corrector pueda leer.")
             .format(c=call))
    return {name: value for name, value in state}


def untouched(expected: dict, got: dict, skip: str | None = None) -> list:
    """Names of ``expected``'s tensors (those under ``skip`` left out) that ``got`` holds with other values."""
    return sorted(k for k, v in expected.items() if not (skip and k.startswith(skip + "."))
                  and not (isinstance(got.get(k), torch.Tensor) and got[k].shape == v.shape and torch.equal(got[k], v)))


def head_close(got: dict, expected: dict, call: str, hint):
    off = [k for k in HEAD if not (isinstance(got.get(k), torch.Tensor) and got[k].shape == expected[k].shape
                                   and torch.allclose(got[k], expected[k], rtol=1e-4, atol=1e-6))]
    if off:
        fail(T("after {c}, {k} is not what the statement's procedure gives on the same network and batches.",
               "tras {c}, {k} no es lo que da el procedimiento del enunciado con la misma red y los mismos batches.")
             .format(c=call, k=off[0]), hint)


def steps_here(model, optimizer, xb_yb):
    """The helper's ``steps`` on this side: eval mode, zero_grad, forward, cross-entropy, backward, step."""
    model.eval()
    for xb, yb in xb_yb:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        optimizer.step()
    return dict(model.state_dict())


@pytest.mark.task("6.2")
def test_replace_head_gives_10_outputs(tl, probes, common):
    """replace_head: the stand-in's state with nn.Linear(16, 10) as its head, the rest untouched, the new head returned
    es: replace_head: el estado del modelo sustituto con nn.Linear(16, 10) como cabeza, el resto intacto, la nueva cabeza devuelta
    """
    backbone = probes.tiny_backbone()
    head = tl.replace_head(backbone, 10)
    got = state_of(common, backbone.get("model"), "the model after replace_head(backbone, 10)")
    shapes = {k: list(got[k].shape) if isinstance(got.get(k), torch.Tensor) else None for k in HEAD}
    check_equal(shapes, {"classifier.bias": [10], "classifier.weight": [10, 16]},
                call="shapes of the head's tensors after replace_head(backbone, 10)",
                hint=T("the ImageNet head has 1000 outputs; CIFAR-10 needs 10: nn.Linear(backbone.num_features, 10).",
                       "la cabeza de ImageNet tiene 1000 salidas; CIFAR-10 necesita 10: nn.Linear(backbone.num_features, 10)."))
    check_equal(untouched(dict(local_probes.tiny_backbone().model.state_dict()), got, skip="classifier"), [],
                call="tensors outside the head changed by replace_head")
    returned = state_of(common, head, "what replace_head returned")
    check_equal(all(torch.equal(returned.get(k.split(".")[1]), got[k]) for k in HEAD) if len(returned) == 2 else False,
                True, call="getattr(model, backbone.head) is replace_head(backbone, 10)",
                hint=T("setattr(backbone.model, backbone.head, new_head) and return new_head.",
                       "setattr(backbone.model, backbone.head, nueva_cabeza) y devuelve nueva_cabeza."))


@pytest.mark.task("6.3")
def test_freeze_backbone_leaves_only_the_head_trainable(tl, probes, common):
    """freeze_backbone: two SGD steps over every parameter move the head only
    es: freeze_backbone: dos pasos de SGD sobre todos los parámetros solo mueven la cabeza
    """
    x, y = synthetic_tensors()
    model = probes.tiny_backbone().get("model")
    tl.freeze_backbone(model, "classifier")
    probes.steps(model, probes.sgd(model, 0.1, 0.9), probes.loader(x[:32], y[:32], 16))
    got = state_of(common, model, "the model")
    mine = local_probes.tiny_backbone().model
    for name, p in mine.named_parameters():
        p.requires_grad_(name in HEAD)
    expected = steps_here(mine, torch.optim.SGD(mine.parameters(), lr=0.1, momentum=0.9),
                          [(x[:16], y[:16]), (x[16:32], y[16:32])])
    check_equal(untouched(dict(local_probes.tiny_backbone().model.state_dict()), got, skip="classifier"), [],
                call="tensors outside the head moved by SGD after freeze_backbone", hint=FREEZE_HINT)
    head_close(got, expected, "freeze_backbone and two SGD steps", FREEZE_HINT)


@pytest.mark.task("6.3")
def test_train_mode_keeps_frozen_batchnorm_in_eval(tl, probes, common):
    """train_mode: a forward pass keeps the frozen BatchNorm statistics and uses them, dropout active
    es: train_mode: una pasada hacia delante conserva las estadísticas de BatchNorm congeladas y las usa, con dropout activo
    """
    x, _ = synthetic_tensors()
    model = probes.tiny_backbone(dropout=0.5).get("model")
    probes.set_trainable(model, HEAD)
    tl.train_mode(model)
    out = tensor_of(probes.forward_as_is(model, x, 7), "model(x) after train_mode(model)")
    mine = local_probes.tiny_backbone(dropout=0.5).model
    mine.train()
    for name in ("features.1", "features.4"):
        mine.get_submodule(name).eval()
    torch.manual_seed(7)
    with torch.no_grad():
        expected = mine(x)
    changed = untouched(dict(local_probes.tiny_backbone(dropout=0.5).model.state_dict()), state_of(common, model, "the model"))
    same = tuple(out.shape) == tuple(expected.shape) and torch.allclose(out, expected, rtol=1e-4, atol=1e-6)
    check_equal((changed, same), ([], True),
                call="(BatchNorm statistics changed, outputs as with frozen BatchNorm in eval and dropout active) for a "
                     "forward pass after train_mode(frozen model)",
                hint=T("model.train(), then module.eval() for every BatchNorm whose parameters are all frozen: "
                       "in train mode BatchNorm overwrites its ImageNet running mean and variance.",
                       "model.train() y luego module.eval() para cada BatchNorm con todos sus parámetros congelados: "
                       "en modo entrenamiento BatchNorm sobrescribe su media y varianza de ImageNet."))


@pytest.mark.task("6.4")
def test_optimizer_gets_only_the_trainable_parameters(tl, probes, common):
    """make_optimizer after freezing, then everything made trainable: two steps move the head only, as Adam(lr) does
    es: make_optimizer tras congelar y después todo entrenable: dos pasos solo mueven la cabeza, como hace Adam(lr)
    """
    x, y = synthetic_tensors()
    model = probes.tiny_backbone().get("model")
    probes.set_trainable(model, HEAD)
    optimizer = tl.make_optimizer(model, 1e-3)
    probes.set_trainable(model, probes.parameter_names(model))
    probes.steps(model, optimizer, probes.loader(x[:32], y[:32], 16))
    got = state_of(common, model, "the model")
    check_equal(untouched(dict(local_probes.tiny_backbone().model.state_dict()), got, skip="classifier"), [],
                call="frozen tensors moved by the steps of make_optimizer(frozen model, 1e-3)",
                hint=T("pass only [p for p in model.parameters() if p.requires_grad].",
                       "pasa solo [p for p in model.parameters() if p.requires_grad]."))
    mine = local_probes.tiny_backbone().model
    expected = steps_here(mine, torch.optim.Adam(mine.classifier.parameters(), lr=1e-3),
                          [(x[:16], y[:16]), (x[16:32], y[16:32])])
    head_close(got, expected, "two steps of make_optimizer(frozen model, 1e-3)",
               T("torch.optim.Adam(trainable parameters, lr=lr).", "torch.optim.Adam(parámetros entrenables, lr=lr)."))


@pytest.mark.task("6.5")
def test_training_epochs_lower_the_loss(tl, probes, common):
    """train_one_epoch: five epochs on 64 images lower the loss of the network (measured here), returned as a float
    es: train_one_epoch: cinco épocas con 64 imágenes reducen la pérdida de la red (medida aquí), devuelta como float
    """
    x, y = synthetic_tensors()
    model = probes.tiny_backbone().get("model")
    optimizer = probes.adam(model, 1e-2)
    losses = [tl.train_one_epoch(model, probes.loader(x, y, 16), optimizer, "cpu") for _ in range(5)]
    if not all(isinstance(v, float) for v in losses):
        fail(T("train_one_epoch returned {v!r}; expected the mean loss as a Python float (loss.item()).",
               "train_one_epoch devolvió {v!r}; se esperaba la pérdida media como float de Python (loss.item()).")
             .format(v=losses[0]))
    net = local_probes.tiny_backbone().model.eval()
    with torch.no_grad():
        before = nn.functional.cross_entropy(net(x), y).item()
    got = state_of(common, model, "the model")
    if sorted(got) != sorted(net.state_dict()):
        fail(T("train_one_epoch changed the network's layers.", "train_one_epoch cambió las capas de la red."))
    net.load_state_dict(got)
    with torch.no_grad():
        after = nn.functional.cross_entropy(net(x), y).item()
    if not after < before:
        fail(T("after 5 epochs the network's loss on the 64 images went from {b:.4f} to {a:.4f} (measured by the grader); "
               "expected it lower.", "tras 5 épocas la pérdida de la red en las 64 imágenes pasó de {b:.4f} a {a:.4f} "
               "(medida por el corrector); se esperaba más baja.").format(b=before, a=after),
             T("each step: optimizer.zero_grad(), forward, loss, loss.backward(), optimizer.step().",
               "en cada paso: optimizer.zero_grad(), forward, pérdida, loss.backward(), optimizer.step()."))


@pytest.mark.task("6.5")
def test_evaluate_on_a_known_model(tl, probes):
    """evaluate: the mean loss and the accuracy of a fixed model
    es: evaluate: la pérdida media y la accuracy de un modelo fijo
    """
    x, y = synthetic_tensors()
    model = local_probes.tiny_backbone().model.eval()  # the same network as the one built next to your code
    with torch.no_grad():
        logits = model(x)
    expected = (nn.functional.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item())
    got = tl.evaluate(probes.tiny_backbone().get("model"), probes.loader(x, y, 10), "cpu")
    if not (isinstance(got, tuple) and len(got) == 2 and all(type(v) in (float, int) for v in got)):
        fail(T("evaluate returned {g!r}; expected a (loss, accuracy) tuple of floats.",
               "evaluate devolvió {g!r}; se esperaba una tupla (loss, accuracy) de floats.").format(g=got))
    check_close(np.array(got, dtype=float), np.array(expected), name="(loss, accuracy)", call="evaluate(model, loader, 'cpu')",
                rtol=1e-5, hint=T("average over examples, not over batches (the last batch is smaller); accuracy in [0, 1].",
                                  "promedia sobre ejemplos, no sobre batches (el último es más pequeño); accuracy en [0, 1]."))


@pytest.mark.task("6.6")
def test_extract_features_are_the_input_of_the_head(tl, probes, common):
    """extract_features: the backbone's output before the head, (N, num_features); head put back
    es: extract_features: la salida de la red base antes de la cabeza, (N, num_features); la cabeza vuelve a su sitio
    """
    x, _ = synthetic_tensors()
    local = local_probes.tiny_backbone().model.eval()  # the same network as the one built next to your code
    with torch.no_grad():
        expected = local.features(x)
    model = probes.tiny_backbone().get("model")
    got = tensor_of(tl.extract_features(model, "classifier", x, batch_size=20),
                    "extract_features(model, 'classifier', x, batch_size=20)")
    check_equal(tuple(got.shape), (64, 16), call="extract_features(model, 'classifier', x, batch_size=20).shape",
                hint=T("replace the head by nn.Identity() while computing: the output is then the head's input.",
                       "sustituye la cabeza por nn.Identity() mientras calculas: la salida es entonces la entrada de la cabeza."))
    check_close(got.numpy(), expected.numpy(), name="features", call="extract_features(model, 'classifier', x)",
                rtol=1e-5, atol=1e-6)
    check_equal(untouched(dict(local_probes.tiny_backbone().model.state_dict()), state_of(common, model, "the model")), [],
                call="tensors of the model (its head included) missing or changed after extract_features",
                hint=T("put the head back (setattr) before returning.", "vuelve a poner la cabeza (setattr) antes de devolver."))


@pytest.mark.task("6.7")
def test_fit_frozen_on_a_small_set(tl, common, synthetic):
    """fit_frozen: a model with a new 10-class head (1280 features) and a history with one value per epoch
    es: fit_frozen: un modelo con una nueva cabeza de 10 clases (1280 características) y un historial con un valor por época
    """
    images, labels = synthetic
    result = tl.fit_frozen(images[16:], labels[16:], images[:16], labels[:16], size=32, epochs=2, lr=1e-3,
                           batch_size=16, seed=0)
    if not (isinstance(result, tuple) and len(result) == 2):
        fail(T("fit_frozen returned {v!r}; expected a tuple (model, history).",
               "fit_frozen devolvió {v!r}; se esperaba una tupla (model, history).").format(v=result))
    model, history = result
    check_history(history, ["train_loss", "val_accuracy", "val_loss"], 2, "fit_frozen(...)")
    got = state_of(common, model, "fit_frozen(...)[0]")
    check_equal({k: list(got[k].shape) if isinstance(got.get(k), torch.Tensor) else None for k in HEAD},
                {"classifier.bias": [10], "classifier.weight": [10, 1280]},
                call="shapes of fit_frozen(...)[0].classifier's tensors",
                hint=T("step b: replace_head before training.", "paso b: replace_head antes de entrenar."))


@pytest.mark.task("6.8")
def test_finetune_optimizer_has_two_learning_rates(tl, probes, common):
    """finetune_optimizer: two steps move the backbone as Adam at backbone_lr and the head as Adam at lr do
    es: finetune_optimizer: dos pasos mueven la red base como Adam con backbone_lr y la cabeza como Adam con lr
    """
    x, y = synthetic_tensors()
    model = probes.tiny_backbone().get("model")
    optimizer = tl.finetune_optimizer(model, "classifier", lr=1e-3, backbone_lr=1e-4)
    probes.steps(model, optimizer, probes.loader(x[:32], y[:32], 16))
    got = state_of(common, model, "the model")
    mine = local_probes.tiny_backbone().model
    body = [p for n, p in mine.named_parameters() if not n.startswith("classifier.")]
    expected = steps_here(mine, torch.optim.Adam([{"params": body, "lr": 1e-4},
                                                  {"params": list(mine.classifier.parameters()), "lr": 1e-3}]),
                          [(x[:16], y[:16]), (x[16:32], y[16:32])])
    names = [n for n, _ in mine.named_parameters()]
    off = [n for n in names if not (isinstance(got.get(n), torch.Tensor) and got[n].shape == expected[n].shape
                                    and torch.allclose(got[n], expected[n], rtol=1e-4, atol=1e-6))]
    check_equal(off, [], call="parameters not moved as Adam with backbone_lr=1e-4 (backbone) and lr=1e-3 (head) moves "
                              "them, after two steps of finetune_optimizer(model, 'classifier', 1e-3, 1e-4)",
                hint=T("two parameter groups: [{'params': backbone parameters, 'lr': backbone_lr}, "
                       "{'params': head parameters, 'lr': lr}]: the pretrained weights move less than the new head.",
                       "dos grupos de parámetros: [{'params': parámetros de la red base, 'lr': backbone_lr}, "
                       "{'params': parámetros de la cabeza, 'lr': lr}]: los pesos preentrenados se mueven menos que la cabeza nueva."))
