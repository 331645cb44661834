"""A6 hidden graders: the real pretrained backbone, frozen means bit-identical, accuracy on real CIFAR-10.

"Frozen" is graded as: no parameter outside the head changes, and no BatchNorm
running statistic either (frozen BatchNorm layers stay in eval mode while the
head trains), so the frozen backbone computes exactly what it computed on ImageNet.

Every network is built and trained in the student process; the state tensors, features and
logits it reports are compared here with the grader's own copy of the pretrained weights, and
the test accuracy is computed here, from perturbed test images whose labels never leave this process.
"""
import numpy as np
import pytest
import torch

from autograder.backbones import IMAGENET_MEAN, IMAGENET_STD, TF_MEAN, TF_STD
from autograder.feedback import T, check_equal, fail
from autograder.gradcheck import check_close
from autograder.graders.a6 import measure
from autograder.graders.a6.hidden import oracles
from autograder.graders.cifar_checks import tensor_of
from autograder.graders.cifar_oracles import fresh_seed, reference_tensors

BUDGET = measure.BUDGET
FREEZE_HINT = T("freeze_backbone must set requires_grad = False on every parameter outside the head.",
                "freeze_backbone debe poner requires_grad = False en todos los parámetros fuera de la cabeza.")
BN_HINT = T("in train mode BatchNorm replaces its ImageNet running mean/variance with CIFAR-10 batch statistics "
            "even when its weights are frozen: train_one_epoch must call train_mode(model), which puts the frozen "
            "BatchNorm layers back in eval mode.",
            "en modo entrenamiento BatchNorm sustituye su media/varianza de ImageNet por las de los batches de "
            "CIFAR-10 aunque sus pesos estén congelados: train_one_epoch debe llamar a train_mode(model), que "
            "devuelve a modo evaluación las BatchNorm congeladas.")
HEAD = "classifier"  # EfficientNet-Lite0's head attribute


def real_batch(small_cifar, n=64, size=32):
    """n real training images as the backbone expects them (the grader's own normalization), and their labels."""
    (images, labels), _ = small_cifar
    return reference_tensors(images[:n], labels[:n], TF_MEAN, TF_STD, size)


def batches(x, y, size):
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(y), size)]


def head_parameters(probes, model):
    return oracles.head_names(probes.parameter_names(model), HEAD)


@pytest.mark.task("6.1")
def test_to_tensors_exact_on_real_images(tl, common, small_cifar):
    """to_tensors on real images: EfficientNet-Lite0 at 64x64 and ImageNet statistics at 32x32; input untouched"""
    (images, labels), _ = small_cifar
    for mean, std, size in [(TF_MEAN, TF_STD, 64), (IMAGENET_MEAN, IMAGENET_STD, 32)]:
        call = f"to_tensors(train_images, train_labels, {mean}, {std}, {size})"
        seen = common.watch(tl.to_tensors, images, labels, mean, std, size)
        if not (isinstance(seen["result"], tuple) and len(seen["result"]) == 2):
            fail(T("to_tensors returned {v!r}; expected a tuple (x, y).", "to_tensors devolvió {v!r}; se esperaba una tupla (x, y).")
                 .format(v=seen["result"]))
        x, y = (tensor_of(v, f"{call}[{i}]") for i, v in enumerate(seen["result"]))
        expected_x, expected_y = reference_tensors(images, labels, mean, std, size)
        check_close(x.numpy(), expected_x.numpy(), name="x", call=call,
                    rtol=1e-5, atol=1e-5, hint=T("value/255, bilinear resize to size x size (align_corners=False), "
                                                 "then (value - mean[c]) / std[c] per channel c.",
                                                 "valor/255, redimensionado bilineal a size x size (align_corners=False) "
                                                 "y luego (valor - mean[c]) / std[c] por canal c."))
        check_equal(torch.equal(y, expected_y), True, call="labels of to_tensors(...) equal the input labels")
        check_equal(seen["changed"], [], call="arguments of to_tensors changed by the call",
                    hint=T("work on a copy; the caller's data must not change.",
                           "trabaja sobre una copia; los datos de quien llama no deben cambiar."))


@pytest.mark.task("6.2")
def test_head_replaced_on_each_backbone_architecture(tl, probes, lite0_ready):
    """replace_head on EfficientNet-Lite0 (pretrained), resnet18 and mobilenet_v3_small: 10 outputs, rest untouched"""
    for name, pretrained in [(lite0_ready, True), ("resnet18", False), ("mobilenet_v3_small", False)]:
        backbone = probes.load_backbone(name, pretrained=pretrained)
        head_name, features = backbone.get("head"), backbone.get("num_features")
        head = tl.replace_head(backbone, 10)
        info = probes.head_info(backbone, head)
        got = (info["type"], info["in_features"], info["out_features"])
        check_equal(got, ("Linear", features, 10),
                    call=f"(type, in_features, out_features) of model.{head_name} after replace_head({name})",
                    hint=T("the new head is nn.Linear(backbone.num_features, 10) at the attribute backbone.head "
                           "({h} here): the ImageNet head had 1000 outputs.",
                           "la nueva cabeza es nn.Linear(backbone.num_features, 10) en el atributo backbone.head "
                           "({h} aquí): la cabeza de ImageNet tenía 1000 salidas.").format(h=head_name))
        check_equal(info["is_returned"], True, call=f"replace_head({name}) returns the new head")
        check_equal(probes.output_shape(backbone.get("model"), [2, 3, 64, 64]), [2, 10],
                    call=f"{name} model(zeros(2, 3, 64, 64)).shape after replace_head")
        moved = oracles.changed(oracles.backbone_state(name, pretrained, head_name),
                                probes.state(backbone.get("model"), head_name))
        check_equal(moved, [], call=f"pretrained weights changed by replace_head({name})",
                    hint=T("only the head is replaced; the convolutional part keeps its pretrained weights.",
                           "solo se sustituye la cabeza; la parte convolucional conserva sus pesos preentrenados."))


@pytest.mark.task("6.3")
def test_frozen_backbone_is_bit_identical_after_training(tl, probes, lite0, lite0_ready, small_cifar):
    """After freeze_backbone, four optimizer steps on real images change the head and nothing else"""
    model = lite0.get("model")
    tl.freeze_backbone(model, HEAD)
    x, y = real_batch(small_cifar)
    # Whatever still requires gradients is trained (the model in eval mode: BatchNorm statistics fixed).
    probes.sgd_steps(model, batches(x, y, 32) * 2, 0.1, 0.9)
    after = probes.state(model)
    pretrained = oracles.backbone_state(lite0_ready)
    moved = oracles.changed({k: v for k, v in pretrained.items() if not k.startswith(HEAD + ".")}, after)
    if moved:
        fail(T("{n} tensors of the frozen backbone changed during training, for example {k}; expected all of them bit-identical.",
               "{n} tensores de la red base congelada cambiaron al entrenar, por ejemplo {k}; se esperaba que todos quedaran idénticos bit a bit.")
             .format(n=len(moved), k=moved[0]), FREEZE_HINT)
    head = {k: v for k, v in pretrained.items() if k.startswith(HEAD + ".")}
    if not oracles.changed(head, after):
        fail(T("the head did not change; expected its parameters to still require gradients after freeze_backbone and train.",
               "la cabeza no cambió; se esperaba que sus parámetros siguieran requiriendo gradiente tras freeze_backbone y se entrenaran."))


@pytest.mark.task("6.3")
def test_train_mode_on_the_real_backbone(tl, probes, lite0):
    """train_mode: every BatchNorm of the frozen EfficientNet-Lite0 in eval, the head training; unfrozen: all training"""
    model = lite0.get("model")
    probes.set_trainable(model, head_parameters(probes, model))
    tl.train_mode(model)
    modes = probes.modes(model)
    bns = [name for name, (kind, _) in modes.items() if "BatchNorm" in kind]
    got = (sum(modes[name][1] for name in bns), modes[HEAD][1])
    check_equal(got, (0, True), call=f"(BatchNorm layers in training mode out of {len(bns)}, head.training) "
                                     "after train_mode(frozen model)", hint=BN_HINT)
    probes.set_trainable(model, probes.parameter_names(model))
    model.eval()
    tl.train_mode(model)
    modes = probes.modes(model)
    check_equal(sum(modes[name][1] for name in bns), len(bns),
                call="BatchNorm layers in training mode after train_mode(unfrozen model)",
                hint=T("when fine-tuning nothing is frozen and train_mode is model.train().",
                       "al hacer fine-tuning nada está congelado y train_mode es model.train()."))


@pytest.mark.task("6.4")
def test_only_the_head_is_in_the_optimizer(tl, probes, lite0):
    """make_optimizer on the frozen EfficientNet-Lite0: exactly the head's parameters, at the given lr"""
    model = lite0.get("model")
    head = head_parameters(probes, model)
    probes.set_trainable(model, head)
    groups = probes.param_groups(model, tl.make_optimizer(model, 3e-4))
    got = [n for _, names in groups for n in names]
    check_equal((len([n for n in got if n not in head]), len(set(head) & set(got))), (0, 2),
                call="(frozen parameters, head parameters) in make_optimizer(frozen model, 3e-4)",
                hint=T("the optimizer gets only [p for p in model.parameters() if p.requires_grad]: step c of the "
                       "deck trains the new head, and frozen tensors have no business in the optimizer.",
                       "el optimizador recibe solo [p for p in model.parameters() if p.requires_grad]: el paso c del "
                       "tema entrena la cabeza nueva y los tensores congelados no pintan nada en el optimizador."))
    check_equal(sorted({lr for lr, _ in groups}), [3e-4], call="learning rate of make_optimizer(model, 3e-4)")


@pytest.mark.task("6.5")
def test_training_a_frozen_model_keeps_batchnorm_statistics(tl, probes, lite0, lite0_ready, small_cifar):
    """train_one_epoch on the frozen EfficientNet-Lite0: BatchNorm running statistics bit-identical, head trained"""
    model = lite0.get("model")
    probes.set_trainable(model, head_parameters(probes, model))
    x, y = real_batch(small_cifar)
    tl.train_one_epoch(model, batches(x, y, 32), probes.adam_over(model.get(HEAD), 1e-3), "cpu")
    after = probes.state(model)
    pretrained = oracles.backbone_state(lite0_ready)
    moved = oracles.changed({k: v for k, v in pretrained.items() if not k.startswith(HEAD + ".")}, after)
    if moved:
        fail(T("after one epoch with a frozen backbone, {n} BatchNorm statistics changed, for example {k}; expected all of them bit-identical.",
               "tras una época con la red base congelada cambiaron {n} estadísticas de BatchNorm, por ejemplo {k}; se esperaba que todas quedaran idénticas bit a bit.")
             .format(n=len(moved), k=moved[0]), BN_HINT)
    if HEAD + ".weight" not in oracles.changed(pretrained, after):
        fail(T("the head did not change; expected train_one_epoch to step the optimizer.",
               "la cabeza no cambió; se esperaba que train_one_epoch llamara a optimizer.step()."))


@pytest.mark.task("6.5")
def test_evaluate_uses_eval_mode_and_builds_no_graph(tl, probes, synthetic):
    """evaluate: eval mode (dropout off, BatchNorm statistics fixed), torch.no_grad()"""
    images, labels = synthetic
    x, y = reference_tensors(images, labels, TF_MEAN, TF_STD, 32)
    model = probes.tiny_backbone(dropout=0.5).get("model")
    seen = probes.observe_evaluation(tl.evaluate, model, batches(x, y, 16), "cpu")
    # an evaluate that never runs the model must not pass for "no train mode, no gradients"
    check_equal(len(seen["forward"]), 4, call="forward passes of the model in evaluate(model, 4 batches of 16, 'cpu')",
                hint=T("run the model on every batch of the loader.", "ejecuta el modelo en cada batch del loader."))
    check_equal(any(training for training, _ in seen["forward"]), False, call="model.training during evaluate",
                hint=T("call model.eval() before evaluating.", "llama a model.eval() antes de evaluar."))
    check_equal(any(grad for _, grad in seen["forward"]), False, call="gradients enabled during evaluate",
                hint=T("wrap the evaluation loop in `with torch.no_grad():`.", "envuelve el bucle de evaluación en `with torch.no_grad():`."))
    check_equal(seen["gradients"], False, call="gradients after evaluate")


@pytest.mark.task("6.6")
def test_extract_features_match_the_frozen_backbone(tl, probes, lite0, lite0_ready, small_cifar):
    """extract_features on EfficientNet-Lite0: 1280 features per image, equal to the backbone's; head put back"""
    model = lite0.get("model")
    head = model.get(HEAD)
    x, _ = real_batch(small_cifar, n=48)
    model.train()  # extract_features must switch to eval itself
    got = tensor_of(tl.extract_features(model, HEAD, x, batch_size=20), "extract_features(model, head, x[:48], batch_size=20)")
    expected = oracles.features(lite0_ready, x)
    check_equal(tuple(got.shape), tuple(expected.shape), call="extract_features(model, head, x[:48]).shape")
    check_close(got.numpy(), expected.numpy(), name="features", call="extract_features(model, head, x[:48], batch_size=20)",
                rtol=1e-4, atol=1e-5, hint=T("eval mode (BatchNorm with its ImageNet statistics) and the head replaced by nn.Identity().",
                                             "modo evaluación (BatchNorm con sus estadísticas de ImageNet) y la cabeza sustituida por nn.Identity()."))
    check_equal(probes.same(model.get(HEAD), head), True, call="the head after extract_features is the original one")


@pytest.mark.task("6.7")
def test_fit_frozen_is_reproducible(tl, common, small_cifar):
    """fit_frozen twice with the same seed gives bit-identical histories; another seed differs"""
    train_part, val_part = small_cifar
    common.seed_everything(0, threads=BUDGET["threads"])
    runs = [tl.fit_frozen(*train_part, *val_part, size=32, epochs=2, lr=1e-3, batch_size=50, seed=s)[1]
            for s in (3, 3, 4)]
    if runs[0] != runs[1]:
        fail(T("two runs with seed 3 gave different histories, {a} and {b}; expected identical ones.",
               "dos ejecuciones con semilla 3 dieron historiales distintos, {a} y {b}; se esperaban idénticos.").format(a=runs[0], b=runs[1]),
             T("torch.manual_seed(seed) before creating the new head, and seed the loader's shuffling.",
               "torch.manual_seed(seed) antes de crear la cabeza nueva, y siembra el barajado del loader."))
    if runs[0] == runs[2]:
        fail(T("seeds 3 and 4 gave the same history; expected different ones: fit_frozen ignores its seed.",
               "las semillas 3 y 4 dieron el mismo historial; se esperaban distintos: fit_frozen ignora la semilla."))


def graded_run(tl, probes, common, graded_subset, progress, once):
    """The budgeted fit_frozen on the real training subset, done once for the tests that need it."""
    def train():
        progress(0, 1, f"training the head ({BUDGET['epochs']} epochs)")
        run = measure.train_and_measure(tl, probes, common.seed_everything, graded_subset,
                                        seed=measure.ASSIGNMENT.calibration["grading_seed"], perturbation_seed=fresh_seed())
        progress(1, 1, "trained")
        return run

    return once("graded run", train)


@pytest.mark.task("6.7")
def test_accuracy_above_the_calibrated_threshold(tl, probes, common, graded_subset, progress, once, note):
    """fit_frozen reaches the calibrated test accuracy on the real CIFAR-10 subset within the budget"""
    threshold = measure.ASSIGNMENT.calibrated().get("threshold")
    if threshold is None:
        fail("grader configuration: no calibrated threshold; run `autograder calibrate a6`.")
    accuracy = graded_run(tl, probes, common, graded_subset, progress, once)["test_accuracy"]
    if accuracy < threshold:
        b = BUDGET
        fail(T("test accuracy {a:.1%} after {e} epochs (lr {lr}, {s}x{s} inputs, {n} training images); expected at least {t:.1%}, the pass mark.",
               "accuracy en test {a:.1%} tras {e} épocas (lr {lr}, entradas {s}x{s}, {n} imágenes); se esperaba al menos {t:.1%}, el mínimo.")
             .format(a=accuracy, e=b["epochs"], lr=b["lr"], s=b["size"], n=10 * (b["train_per_class"] - b["val_per_class"]),
                     t=threshold),
             T("the reference reaches about {m:.1%}. Check the normalization (the backbone's mean and std, after "
               "dividing by 255), the resize, that the head is new and trained, and that the backbone stays frozen.",
               "la referencia llega a {m:.1%}. Revisa la normalización (la media y desviación de la red, tras dividir "
               "entre 255), el redimensionado, que la cabeza sea nueva y se entrene, y que la red base siga congelada.")
             .format(m=measure.ASSIGNMENT.calibrated().get("mean", threshold)))
    note(T("test accuracy {a:.1%}, pass mark {t:.1%}", "accuracy en test {a:.1%}, mínimo {t:.1%}")
         .format(a=accuracy, t=threshold))


@pytest.mark.task("6.7")
def test_transfer_beats_training_from_scratch(tl, probes, common, graded_subset, progress, once, note):
    """On the same training images, epochs and seed, transfer beats the best epoch of the A4 LeNet from scratch"""
    accuracy = graded_run(tl, probes, common, graded_subset, progress, once)["test_accuracy"]
    scratch = measure.scratch_accuracies(*graded_subset, seed=measure.ASSIGNMENT.calibration["grading_seed"])
    if not accuracy > max(scratch):
        b = BUDGET
        fail(T("transfer learning reached {a:.1%}, but the A4 LeNet trained from scratch on the same {n} images for "
               "{e} epochs reached {s:.1%} (its best epoch): expected transfer to be better.",
               "el aprendizaje por transferencia llegó a {a:.1%}, pero la LeNet de A4 entrenada desde cero con las "
               "mismas {n} imágenes y {e} épocas llegó a {s:.1%} (su mejor época): se esperaba que la transferencia ganara.")
             .format(a=accuracy, s=max(scratch), n=10 * (b["train_per_class"] - b["val_per_class"]), e=b["epochs"]),
             T("ImageNet features need inputs like ImageNet's: resized (64x64) and normalized with the backbone's "
               "statistics; and the pretrained weights must be kept, not retrained or replaced.",
               "las características de ImageNet necesitan entradas como las de ImageNet: redimensionadas (64x64) y "
               "normalizadas con las estadísticas de la red; y hay que conservar los pesos preentrenados."))
    note(T("transfer {a:.1%}, LeNet from scratch {s:.1%} (its best epoch)",
           "transferencia {a:.1%}, LeNet desde cero {s:.1%} (su mejor época)").format(a=accuracy, s=max(scratch)))


@pytest.mark.task("6.7")
def test_backbone_bit_identical_after_the_graded_run(tl, probes, common, graded_subset, progress, once, lite0_ready):
    """After the graded fit_frozen, every backbone weight and BatchNorm statistic equals the pretrained one"""
    model = graded_run(tl, probes, common, graded_subset, progress, once)["model"]
    backbone = oracles.backbone_state(lite0_ready, head=HEAD)
    moved = oracles.changed(backbone, probes.state(model, HEAD))
    if moved:
        fail(T("{n} of the {m} tensors of the pretrained backbone differ after fit_frozen, for example {k}; expected all of them bit-identical.",
               "{n} de los {m} tensores de la red base preentrenada difieren tras fit_frozen, por ejemplo {k}; se esperaba que todos quedaran idénticos bit a bit.")
             .format(n=len(moved), m=len(backbone), k=moved[0]),
             T("load the pretrained backbone, freeze it and train only the new head; BatchNorm layers of the "
               "frozen part stay in eval mode.", "carga la red preentrenada, congélala y entrena solo la cabeza "
               "nueva; las BatchNorm de la parte congelada se quedan en modo evaluación."))


@pytest.mark.task("6.7")
def test_reported_history_matches_the_graders_evaluation(tl, probes, common, graded_subset, progress, once, curves):
    """The validation accuracy fit_frozen reports equals the grader's own evaluation of the returned model"""
    run = graded_run(tl, probes, common, graded_subset, progress, once)
    curves("graded run", run["history"])  # drawn on the student's feedback page beside the reference's
    history, measured = run["history"], run["val_accuracy"]
    values = history.get("val_accuracy") if isinstance(history, dict) else None
    reported = values[-1] if isinstance(values, list) and values else None
    tolerance = 2 / (BUDGET["val_per_class"] * 10)  # two images: ties broken differently by another batch size
    if type(reported) not in (float, int) or abs(reported - measured) > tolerance:
        fail(T("fit_frozen reports a final validation accuracy of {r}, but the returned model scores {a:.4f} on the "
               "validation set; expected the same value.",
               "fit_frozen informa de una accuracy final en validación de {r}, pero el modelo devuelto obtiene {a:.4f} "
               "en validación; se esperaba el mismo valor.").format(r=reported, a=measured),
             T("evaluate on the validation features (not the training ones) after each epoch, and return the model "
               "whose head you trained.",
               "evalúa con las características de validación (no las de entrenamiento) tras cada época y devuelve el "
               "modelo cuya cabeza entrenaste."))


@pytest.mark.task("6.7")
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here: the CPU-vs-GPU comparison did not run")
def test_fit_frozen_on_gpu_agrees_with_cpu(tl, probes, common, small_cifar):
    """fit_frozen(device='cuda') trains on the GPU and agrees with the CPU run within 1e-3"""
    train_part, val_part = small_cifar
    kwargs = dict(size=32, epochs=2, lr=1e-3, batch_size=50, seed=3)
    common.seed_everything(0, threads=BUDGET["threads"])
    cpu = tl.fit_frozen(*train_part, *val_part, device="cpu", **kwargs)[1]
    model, gpu = tl.fit_frozen(*train_part, *val_part, device="cuda", **kwargs)
    check_equal(probes.devices(model), ["cuda:0"], call="devices of fit_frozen(..., device='cuda')[0]'s parameters")
    check_close(np.array(gpu["train_loss"]), np.array(cpu["train_loss"]), name="train_loss", call="GPU vs CPU",
                rtol=1e-3, atol=1e-3)


@pytest.mark.task("6.8")
def test_unfreeze_makes_everything_trainable(tl, probes, lite0):
    """unfreeze after freezing: every parameter of EfficientNet-Lite0 requires gradients"""
    model = lite0.get("model")
    names = probes.parameter_names(model)
    probes.set_trainable(model, oracles.head_names(names, HEAD))
    tl.unfreeze(model)
    check_equal(len(probes.trainable(model)), len(names), call="parameters requiring gradients after unfreeze",
                hint=T("p.requires_grad = True for every parameter.", "p.requires_grad = True para todos los parámetros."))


@pytest.mark.task("6.8")
def test_finetune_groups_give_the_backbone_a_smaller_lr(tl, probes, lite0):
    """finetune_optimizer on EfficientNet-Lite0: every backbone parameter at backbone_lr, the head at lr, each once"""
    model = lite0.get("model")
    names = probes.parameter_names(model)
    head = set(oracles.head_names(names, HEAD))
    lr_of = {}
    for lr, params in probes.param_groups(model, tl.finetune_optimizer(model, HEAD, lr=1e-3, backbone_lr=5e-5)):
        for n in params:
            lr_of.setdefault(n, []).append(lr)
    head_lrs = sorted({lr for n in head for lr in lr_of.get(n, [None])}, key=str)
    body_lrs = sorted({lr for n in names if n not in head for lr in lr_of.get(n, [None])}, key=str)
    twice = sum(len(v) > 1 for v in lr_of.values())
    check_equal((body_lrs, head_lrs, twice), ([5e-5], [1e-3], 0),
                call="(learning rates of the backbone's parameters, of the head's, parameters in two groups) "
                     "of finetune_optimizer(model, head, lr=1e-3, backbone_lr=5e-5)",
                hint=T("fine-tuning: the pretrained weights move with the smaller backbone_lr, the new head with lr; "
                       "two parameter groups, every parameter in exactly one.",
                       "fine-tuning: los pesos preentrenados se mueven con el backbone_lr menor y la cabeza nueva con lr; "
                       "dos grupos de parámetros, cada parámetro en uno solo."))


@pytest.mark.task("6.8")
def test_fine_tune_trains_the_backbone_at_its_own_rate(tl, probes, lite0_ready, small_cifar):
    """fine_tune from a frozen model: backbone_lr=0 keeps the backbone weights, backbone_lr>0 moves them; head always trains"""
    pretrained = oracles.backbone_state(lite0_ready)
    x, y = real_batch(small_cifar, n=32)
    results, history = [], None
    for backbone_lr in (0.0, 1e-4):
        model = probes.load_backbone(lite0_ready).get("model")
        names = probes.parameter_names(model)
        probes.set_trainable(model, oracles.head_names(names, HEAD))
        _, history = tl.fine_tune(model, HEAD, x, y, x[:16], y[:16], epochs=1, lr=1e-3,
                                  backbone_lr=backbone_lr, batch_size=16, seed=0)
        parameters = set(names)
        moved = set(oracles.changed({k: v for k, v in pretrained.items() if k in parameters}, probes.state(model)))
        results.append((any(not n.startswith(HEAD + ".") for n in moved), any(n.startswith(HEAD + ".") for n in moved)))
    check_equal(results, [(False, True), (True, True)],
                call="[(backbone moved, head moved)] after fine_tune with backbone_lr=0 and with backbone_lr=1e-4",
                hint=T("fine_tune unfreezes the model and trains it with finetune_optimizer(model, head, lr, backbone_lr).",
                       "fine_tune descongela el modelo y lo entrena con finetune_optimizer(model, head, lr, backbone_lr)."))
    check_equal(len(history["train_loss"]) if isinstance(history, dict) and isinstance(history.get("train_loss"), list)
                else history, 1, call="len(fine_tune(..., epochs=1)[1]['train_loss'])")
