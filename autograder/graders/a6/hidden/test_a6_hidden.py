"""A6 hidden graders: the real pretrained backbone, frozen means bit-identical, accuracy on real CIFAR-10.

"Frozen" is graded as: no parameter outside the head changes, and no BatchNorm
running statistic either (frozen BatchNorm layers stay in eval mode while the
head trains), so the frozen backbone computes exactly what it computed on ImageNet.
"""
import numpy as np
import pytest
import torch
import torch.nn as nn

from autograder import backbones
from autograder.backbones import IMAGENET_MEAN, IMAGENET_STD
from autograder.feedback import T, check_equal, fail
from autograder.gradcheck import check_close
from autograder.graders.a6 import measure, probes
from autograder.repro import seed_everything

BUDGET = measure.BUDGET
FREEZE_HINT = T("freeze_backbone must set requires_grad = False on every parameter outside the head.",
                "freeze_backbone debe poner requires_grad = False en todos los parámetros fuera de la cabeza.")
BN_HINT = T("in train mode BatchNorm replaces its ImageNet running mean/variance with CIFAR-10 batch statistics "
            "even when its weights are frozen: train_one_epoch must call train_mode(model), which puts the frozen "
            "BatchNorm layers back in eval mode.",
            "en modo entrenamiento BatchNorm sustituye su media/varianza de ImageNet por las de los batches de "
            "CIFAR-10 aunque sus pesos estén congelados: train_one_epoch debe llamar a train_mode(model), que "
            "devuelve a modo evaluación las BatchNorm congeladas.")


def real_batch(small_cifar, backbone, n=64, size=32):
    (images, labels), _ = small_cifar
    return probes.reference_tensors(images[:n], labels[:n], backbone.mean, backbone.std, size)


def with_new_head(backbone):
    torch.manual_seed(0)
    setattr(backbone.model, backbone.head, nn.Linear(backbone.num_features, 10))
    return backbone


@pytest.mark.task("6.1")
def test_to_tensors_exact_on_real_images(tl, small_cifar):
    """to_tensors on real images: EfficientNet-Lite0 at 64x64 and ImageNet statistics at 32x32; input untouched"""
    (images, labels), _ = small_cifar
    before = images.copy()
    for mean, std, size in [(backbones.TF_MEAN, backbones.TF_STD, 64), (IMAGENET_MEAN, IMAGENET_STD, 32)]:
        x, y = tl.to_tensors(images, labels, mean, std, size)
        expected_x, expected_y = probes.reference_tensors(images, labels, mean, std, size)
        check_close(np.asarray(x), expected_x.numpy(), name="x", call=f"to_tensors(train_images, train_labels, {mean}, {std}, {size})",
                    rtol=1e-5, atol=1e-5, hint=T("value/255, bilinear resize to size x size (align_corners=False), "
                                                 "then (value - mean[c]) / std[c] per channel c.",
                                                 "valor/255, redimensionado bilineal a size x size (align_corners=False) "
                                                 "y luego (valor - mean[c]) / std[c] por canal c."))
        check_equal(torch.equal(torch.as_tensor(y), expected_y), True, call="labels of to_tensors(...) equal the input labels")
    check_equal(np.array_equal(images, before), True, call="the images array is unchanged by to_tensors")


@pytest.mark.task("6.2")
def test_head_replaced_on_each_backbone_architecture(tl, lite0, lite0_state):
    """replace_head on EfficientNet-Lite0 (pretrained), resnet18 and mobilenet_v3_small: 10 outputs, rest untouched"""
    cases = [lite0] + [backbones.load_backbone(n, pretrained=False) for n in ("resnet18", "mobilenet_v3_small")]
    for backbone in cases:
        before = probes.backbone_state(backbone.model, backbone.head)
        tl.replace_head(backbone, 10)
        head = getattr(backbone.model, backbone.head)
        got = (type(head).__name__, getattr(head, "in_features", None), getattr(head, "out_features", None))
        check_equal(got, ("Linear", backbone.num_features, 10),
                    call=f"(type, in_features, out_features) of model.{backbone.head} after replace_head({backbone.name})",
                    hint=T("the new head is nn.Linear(backbone.num_features, 10) at the attribute backbone.head "
                           "({h} here): the ImageNet head had 1000 outputs.",
                           "la nueva cabeza es nn.Linear(backbone.num_features, 10) en el atributo backbone.head "
                           "({h} aquí): la cabeza de ImageNet tenía 1000 salidas.").format(h=backbone.head))
        with torch.no_grad():
            shape = tuple(backbone.model.eval()(torch.zeros(2, 3, 64, 64)).shape)
        check_equal(shape, (2, 10), call=f"{backbone.name} model(zeros(2, 3, 64, 64)).shape after replace_head")
        check_equal(probes.changed(before, backbone.model), [], call=f"pretrained weights changed by replace_head({backbone.name})",
                    hint=T("only the head is replaced; the convolutional part keeps its pretrained weights.",
                           "solo se sustituye la cabeza; la parte convolucional conserva sus pesos preentrenados."))


@pytest.mark.task("6.3")
def test_frozen_backbone_is_bit_identical_after_training(tl, lite0, small_cifar):
    """After freeze_backbone, three optimizer steps on real images change the head and nothing else"""
    backbone = with_new_head(lite0)
    model = backbone.model
    tl.freeze_backbone(model, backbone.head)
    before = probes.backbone_state(model, backbone.head)
    head_before = [p.detach().clone() for p in getattr(model, backbone.head).parameters()]
    # Whatever still requires gradients is trained: a frozen parameter must not be among them.
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
    x, y = real_batch(small_cifar, backbone)
    for xb, yb in probes.batches(x, y, 32) * 2:
        probes.frozen_train_mode(model)
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        optimizer.step()
    moved = probes.changed(before, model)
    if moved:
        fail(T("{n} tensors of the frozen backbone changed during training, for example {k}; expected all of them bit-identical.",
               "{n} tensores de la red base congelada cambiaron al entrenar, por ejemplo {k}; se esperaba que todos quedaran idénticos bit a bit.")
             .format(n=len(moved), k=moved[0]), FREEZE_HINT)
    if all(torch.equal(a, b) for a, b in zip(head_before, getattr(model, backbone.head).parameters())):
        fail(T("the head did not change; expected its parameters to still require gradients after freeze_backbone and train.",
               "la cabeza no cambió; se esperaba que sus parámetros siguieran requiriendo gradiente tras freeze_backbone y se entrenaran."))


@pytest.mark.task("6.3")
def test_train_mode_on_the_real_backbone(tl, lite0):
    """train_mode: every BatchNorm of the frozen EfficientNet-Lite0 in eval, the head training; unfrozen: all training"""
    backbone = with_new_head(lite0)
    model = backbone.model
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    probes.freeze(model, backbone.head)
    tl.train_mode(model)
    got = (sum(m.training for m in bns), getattr(model, backbone.head).training)
    check_equal(got, (0, True), call=f"(BatchNorm layers in training mode out of {len(bns)}, head.training) "
                                     "after train_mode(frozen model)", hint=BN_HINT)
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()
    tl.train_mode(model)
    check_equal(sum(m.training for m in bns), len(bns), call="BatchNorm layers in training mode after train_mode(unfrozen model)",
                hint=T("when fine-tuning nothing is frozen and train_mode is model.train().",
                       "al hacer fine-tuning nada está congelado y train_mode es model.train()."))


@pytest.mark.task("6.4")
def test_only_the_head_is_in_the_optimizer(tl, lite0):
    """make_optimizer on the frozen EfficientNet-Lite0: exactly the head's parameters, at the given lr"""
    backbone = with_new_head(lite0)
    probes.freeze(backbone.model, backbone.head)
    optimizer = tl.make_optimizer(backbone.model, 3e-4)
    head_ids = {id(p) for p in getattr(backbone.model, backbone.head).parameters()}
    got = [id(p) for g in optimizer.param_groups for p in g["params"]]
    extra = len(set(got) - head_ids)
    check_equal((extra, len(head_ids & set(got))), (0, 2),
                call="(frozen parameters, head parameters) in make_optimizer(frozen model, 3e-4)",
                hint=T("the optimizer gets only [p for p in model.parameters() if p.requires_grad]: step c of the "
                       "deck trains the new head, and frozen tensors have no business in the optimizer.",
                       "el optimizador recibe solo [p for p in model.parameters() if p.requires_grad]: el paso c del "
                       "tema entrena la cabeza nueva y los tensores congelados no pintan nada en el optimizador."))
    check_equal(sorted({g["lr"] for g in optimizer.param_groups}), [3e-4], call="learning rate of make_optimizer(model, 3e-4)")


@pytest.mark.task("6.5")
def test_training_a_frozen_model_keeps_batchnorm_statistics(tl, lite0, small_cifar):
    """train_one_epoch on the frozen EfficientNet-Lite0: BatchNorm running statistics bit-identical, head trained"""
    backbone = with_new_head(lite0)
    model = backbone.model
    probes.freeze(model, backbone.head)
    before = probes.backbone_state(model, backbone.head)
    head = getattr(model, backbone.head)
    head_before = head.weight.detach().clone()
    x, y = real_batch(small_cifar, backbone)
    tl.train_one_epoch(model, probes.batches(x, y, 32), torch.optim.Adam(head.parameters(), lr=1e-3), "cpu")
    moved = [k for k in probes.changed(before, model)]
    if moved:
        fail(T("after one epoch with a frozen backbone, {n} BatchNorm statistics changed, for example {k}; expected all of them bit-identical.",
               "tras una época con la red base congelada cambiaron {n} estadísticas de BatchNorm, por ejemplo {k}; se esperaba que todas quedaran idénticas bit a bit.")
             .format(n=len(moved), k=moved[0]), BN_HINT)
    if torch.equal(head_before, head.weight):
        fail(T("the head did not change; expected train_one_epoch to step the optimizer.",
               "la cabeza no cambió; se esperaba que train_one_epoch llamara a optimizer.step()."))


@pytest.mark.task("6.5")
def test_evaluate_uses_eval_mode_and_builds_no_graph(tl, synthetic):
    """evaluate: eval mode (dropout off, BatchNorm statistics fixed), torch.no_grad()"""
    images, labels = synthetic
    x, y = probes.reference_tensors(images, labels, backbones.TF_MEAN, backbones.TF_STD, 32)
    model = probes.tiny_backbone(dropout=0.5).model
    model.train()
    seen = []
    model.register_forward_pre_hook(lambda module, args: seen.append((module.training, torch.is_grad_enabled())))
    tl.evaluate(model, probes.batches(x, y, 16), "cpu")
    check_equal(any(training for training, _ in seen), False, call="model.training during evaluate",
                hint=T("call model.eval() before evaluating.", "llama a model.eval() antes de evaluar."))
    check_equal(any(grad for _, grad in seen), False, call="gradients enabled during evaluate",
                hint=T("wrap the evaluation loop in `with torch.no_grad():`.", "envuelve el bucle de evaluación en `with torch.no_grad():`."))


@pytest.mark.task("6.6")
def test_extract_features_match_the_frozen_backbone(tl, lite0, small_cifar):
    """extract_features on EfficientNet-Lite0: 1280 features per image, equal to the backbone's; head put back"""
    backbone = with_new_head(lite0)
    model, head = backbone.model, getattr(backbone.model, backbone.head)
    x, _ = real_batch(small_cifar, backbone, n=48)
    model.train()  # extract_features must switch to eval itself
    got = tl.extract_features(model, backbone.head, x, batch_size=20)
    setattr(model, backbone.head, nn.Identity())
    model.eval()
    with torch.no_grad():
        expected = model(x)
    setattr(model, backbone.head, head)
    check_equal(tuple(got.shape), (48, backbone.num_features), call="extract_features(model, head, x[:48]).shape")
    check_close(got.numpy(), expected.numpy(), name="features", call="extract_features(model, head, x[:48], batch_size=20)",
                rtol=1e-4, atol=1e-5, hint=T("eval mode (BatchNorm with its ImageNet statistics) and the head replaced by nn.Identity().",
                                             "modo evaluación (BatchNorm con sus estadísticas de ImageNet) y la cabeza sustituida por nn.Identity()."))
    check_equal(getattr(model, backbone.head) is head, True, call="the head after extract_features is the original one")


@pytest.mark.task("6.7")
def test_fit_frozen_is_reproducible(tl, small_cifar):
    """fit_frozen twice with the same seed gives bit-identical histories; another seed differs"""
    (train_x, train_y), (test_x, test_y) = small_cifar
    seed_everything(0, threads=BUDGET["threads"])
    runs = [tl.fit_frozen(train_x, train_y, test_x, test_y, size=32, epochs=2, lr=1e-3, batch_size=50, seed=s)[1]
            for s in (3, 3, 4)]
    if runs[0] != runs[1]:
        fail(T("two runs with seed 3 gave different histories, {a} and {b}; expected identical ones.",
               "dos ejecuciones con semilla 3 dieron historiales distintos, {a} y {b}; se esperaban idénticos.").format(a=runs[0], b=runs[1]),
             T("torch.manual_seed(seed) before creating the new head, and seed the loader's shuffling.",
               "torch.manual_seed(seed) antes de crear la cabeza nueva, y siembra el barajado del loader."))
    if runs[0] == runs[2]:
        fail(T("seeds 3 and 4 gave the same history; expected different ones: fit_frozen ignores its seed.",
               "las semillas 3 y 4 dieron el mismo historial; se esperaban distintos: fit_frozen ignora la semilla."))


def graded_run(tl, graded_subset, progress, once):
    """The budgeted fit_frozen on 5,000 real training images, done once for the tests that need it."""
    epochs = BUDGET["epochs"]

    def train():
        progress(0, epochs, "training the head")
        return measure.train_and_measure(
            tl, *graded_subset, seed=measure.ASSIGNMENT.calibration["grading_seed"],
            on_epoch=lambda epoch, history: progress(epoch + 1, epochs, "training the head"))

    return once("graded run", train)


@pytest.mark.task("6.7")
def test_accuracy_above_the_calibrated_threshold(tl, graded_subset, progress, once):
    """fit_frozen reaches the calibrated test accuracy on 5,000 real CIFAR-10 images within the budget"""
    threshold = measure.ASSIGNMENT.calibrated().get("threshold")
    if threshold is None:
        fail("grader configuration: no calibrated threshold; run `autograder calibrate a6`.")
    accuracy, _, _ = graded_run(tl, graded_subset, progress, once)
    if accuracy < threshold:
        b = BUDGET
        fail(T("test accuracy {a:.1%} after {e} epochs (lr {lr}, {s}x{s} inputs, {n} training images); expected at least {t:.1%}, the pass mark.",
               "accuracy en test {a:.1%} tras {e} épocas (lr {lr}, entradas {s}x{s}, {n} imágenes); se esperaba al menos {t:.1%}, el mínimo.")
             .format(a=accuracy, e=b["epochs"], lr=b["lr"], s=b["size"], n=10 * b["train_per_class"], t=threshold),
             T("the reference reaches about {m:.1%}. Check the normalization (the backbone's mean and std, after "
               "dividing by 255), the resize, that the head is new and trained, and that the backbone stays frozen.",
               "la referencia llega a {m:.1%}. Revisa la normalización (la media y desviación de la red, tras dividir "
               "entre 255), el redimensionado, que la cabeza sea nueva y se entrene, y que la red base siga congelada.")
             .format(m=measure.ASSIGNMENT.calibrated().get("mean", threshold)))


@pytest.mark.task("6.7")
def test_transfer_beats_training_from_scratch(tl, graded_subset, progress, once):
    """On the same 5,000 images, epochs and seed, transfer beats the best epoch of the A4 LeNet from scratch"""
    accuracy, _, _ = graded_run(tl, graded_subset, progress, once)
    scratch = measure.scratch_accuracies(*graded_subset, seed=measure.ASSIGNMENT.calibration["grading_seed"])
    if not accuracy > max(scratch):
        fail(T("transfer learning reached {a:.1%}, but the A4 LeNet trained from scratch on the same {n} images for "
               "{e} epochs reached {s:.1%} (its best epoch): expected transfer to be better.",
               "el aprendizaje por transferencia llegó a {a:.1%}, pero la LeNet de A4 entrenada desde cero con las "
               "mismas {n} imágenes y {e} épocas llegó a {s:.1%} (su mejor época): se esperaba que la transferencia ganara.")
             .format(a=accuracy, s=max(scratch), n=10 * BUDGET["train_per_class"], e=BUDGET["epochs"]),
             T("ImageNet features need inputs like ImageNet's: resized (64x64) and normalized with the backbone's "
               "statistics; and the pretrained weights must be kept, not retrained or replaced.",
               "las características de ImageNet necesitan entradas como las de ImageNet: redimensionadas (64x64) y "
               "normalizadas con las estadísticas de la red; y hay que conservar los pesos preentrenados."))


@pytest.mark.task("6.7")
def test_backbone_bit_identical_after_the_graded_run(tl, graded_subset, progress, lite0_state, once):
    """After the graded fit_frozen, every backbone weight and BatchNorm statistic equals the pretrained one"""
    _, _, model = graded_run(tl, graded_subset, progress, once)
    now = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    backbone = {k: v for k, v in lite0_state.items() if not k.startswith("classifier.")}
    moved = sorted(k for k, v in backbone.items() if k not in now or not torch.equal(v, now[k]))
    if moved:
        fail(T("{n} of the {m} tensors of the pretrained backbone differ after fit_frozen, for example {k}; expected all of them bit-identical.",
               "{n} de los {m} tensores de la red base preentrenada difieren tras fit_frozen, por ejemplo {k}; se esperaba que todos quedaran idénticos bit a bit.")
             .format(n=len(moved), m=len(backbone), k=moved[0]),
             T("load the pretrained backbone, freeze it and train only the new head; BatchNorm layers of the "
               "frozen part stay in eval mode.", "carga la red preentrenada, congélala y entrena solo la cabeza "
               "nueva; las BatchNorm de la parte congelada se quedan en modo evaluación."))


@pytest.mark.task("6.7")
def test_reported_history_matches_the_graders_evaluation(tl, graded_subset, progress, once):
    """The test accuracy fit_frozen reports equals the grader's own evaluation of the returned model"""
    accuracy, history, _ = graded_run(tl, graded_subset, progress, once)
    reported = history["test_accuracy"][-1] if history.get("test_accuracy") else None
    if reported is None or abs(reported - accuracy) > 1e-3:
        fail(T("fit_frozen reports a final test accuracy of {r}, but the returned model scores {a:.4f} on the test set; expected the same value.",
               "fit_frozen informa de una accuracy final en test de {r}, pero el modelo devuelto obtiene {a:.4f} en test; se esperaba el mismo valor.")
             .format(r=reported, a=accuracy),
             T("evaluate on the test features after each epoch, and return the model whose head you trained.",
               "evalúa con las características de test tras cada época y devuelve el modelo cuya cabeza entrenaste."))


@pytest.mark.task("6.7")
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here: the CPU-vs-GPU comparison did not run")
def test_fit_frozen_on_gpu_agrees_with_cpu(tl, small_cifar):
    """fit_frozen(device='cuda') trains on the GPU and agrees with the CPU run within 1e-3"""
    (train_x, train_y), (test_x, test_y) = small_cifar
    kwargs = dict(size=32, epochs=2, lr=1e-3, batch_size=50, seed=3)
    cpu = tl.fit_frozen(train_x, train_y, test_x, test_y, device="cpu", **kwargs)[1]
    model, gpu = tl.fit_frozen(train_x, train_y, test_x, test_y, device="cuda", **kwargs)
    check_equal(next(model.parameters()).device.type, "cuda", call="device of fit_frozen(..., device='cuda')[0]")
    check_close(np.array(gpu["train_loss"]), np.array(cpu["train_loss"]), name="train_loss", call="GPU vs CPU",
                rtol=1e-3, atol=1e-3)


@pytest.mark.task("6.8")
def test_unfreeze_makes_everything_trainable(tl, lite0):
    """unfreeze after freezing: every parameter of EfficientNet-Lite0 requires gradients"""
    backbone = with_new_head(lite0)
    probes.freeze(backbone.model, backbone.head)
    tl.unfreeze(backbone.model)
    params = list(backbone.model.parameters())
    check_equal(sum(p.requires_grad for p in params), len(params), call="parameters requiring gradients after unfreeze",
                hint=T("p.requires_grad = True for every parameter.", "p.requires_grad = True para todos los parámetros."))


@pytest.mark.task("6.8")
def test_finetune_groups_give_the_backbone_a_smaller_lr(tl, lite0):
    """finetune_optimizer on EfficientNet-Lite0: every backbone parameter at backbone_lr, the head at lr, each once"""
    backbone = with_new_head(lite0)
    model = backbone.model
    head_ids = {id(p) for p in getattr(model, backbone.head).parameters()}
    optimizer = tl.finetune_optimizer(model, backbone.head, lr=1e-3, backbone_lr=5e-5)
    lr_of = {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            lr_of.setdefault(id(p), []).append(group["lr"])
    head_lrs = sorted({lr for i in head_ids for lr in lr_of.get(i, [None])}, key=str)
    body = [id(p) for p in model.parameters() if id(p) not in head_ids]
    body_lrs = sorted({lr for i in body for lr in lr_of.get(i, [None])}, key=str)
    twice = sum(len(v) > 1 for v in lr_of.values())
    check_equal((body_lrs, head_lrs, twice), ([5e-5], [1e-3], 0),
                call="(learning rates of the backbone's parameters, of the head's, parameters in two groups) "
                     "of finetune_optimizer(model, head, lr=1e-3, backbone_lr=5e-5)",
                hint=T("fine-tuning: the pretrained weights move with the smaller backbone_lr, the new head with lr; "
                       "two parameter groups, every parameter in exactly one.",
                       "fine-tuning: los pesos preentrenados se mueven con el backbone_lr menor y la cabeza nueva con lr; "
                       "dos grupos de parámetros, cada parámetro en uno solo."))


@pytest.mark.task("6.8")
def test_fine_tune_trains_the_backbone_at_its_own_rate(tl, lite0, small_cifar):
    """fine_tune from a frozen model: backbone_lr=0 keeps the backbone weights, backbone_lr>0 moves them; head always trains"""
    results = []
    for backbone_lr in (0.0, 1e-4):
        backbone = with_new_head(backbones.load_backbone(BUDGET["backbone"]))
        model = backbone.model
        probes.freeze(model, backbone.head)
        weights = {n: p.detach().clone() for n, p in model.named_parameters()}
        x, y = real_batch(small_cifar, backbone, n=32)
        _, history = tl.fine_tune(model, backbone.head, x, y, x[:16], y[:16], epochs=1, lr=1e-3,
                                  backbone_lr=backbone_lr, batch_size=16, seed=0)
        moved = {n for n, p in model.named_parameters() if not torch.equal(weights[n], p.detach())}
        results.append((any(not n.startswith(backbone.head + ".") for n in moved),
                        any(n.startswith(backbone.head + ".") for n in moved)))
    check_equal(results, [(False, True), (True, True)],
                call="[(backbone moved, head moved)] after fine_tune with backbone_lr=0 and with backbone_lr=1e-4",
                hint=T("fine_tune unfreezes the model and trains it with finetune_optimizer(model, head, lr, backbone_lr).",
                       "fine_tune descongela el modelo y lo entrena con finetune_optimizer(model, head, lr, backbone_lr)."))
    check_equal(len(history["train_loss"]), 1, call="len(fine_tune(..., epochs=1)[1]['train_loss'])")
