"""A6 hidden graders: the real pretrained backbone, frozen means bit-identical, accuracy on real CIFAR-10.

"Frozen" is graded as: no parameter outside the head changes, and no BatchNorm
running statistic either (frozen BatchNorm layers stay in eval mode while the
head trains), so the frozen backbone computes exactly what it computed on ImageNet.

Every point rests on a value this side computes or checks against its own oracle. The grader calls the
student's functions itself, on networks, DataLoaders and optimizers built next to them; it reads back the
networks' state tensors (``common.state``) and outputs for inputs it chose, and compares them with its own
pristine copy of the pretrained weights and with the statement's procedure run here on that copy
(:mod:`autograder.graders.a6.trusted`). What the student process reports about itself (modes, requires_grad,
an optimizer's groups, gradients enabled) only shapes feedback. The graded fit_frozen's state is loaded into
the grader's own EfficientNet-Lite0 and evaluated here: the student's forward pass never sees a graded image; its
accuracy counts only with the evidence that the head was trained here, from a fresh initialization, on the features of
the images given (the run recorded and partly replayed: :mod:`autograder.graders.a6.proof`).
"""
import numpy as np
import pytest
import torch

from autograder.backbones import IMAGENET_MEAN, IMAGENET_STD, TF_MEAN, TF_STD
from autograder.feedback import T, check_equal, fail
from autograder.gradcheck import check_close
from autograder.graders import trusted_models
from autograder.graders.a6 import measure, trusted
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


def head_parameters(probes, model):
    return oracles.head_names(probes.parameter_names(model), HEAD)


@pytest.mark.task("6.1")
def test_to_tensors_exact_on_real_images(tl, common, small_cifar, note):
    """to_tensors on real images: EfficientNet-Lite0 at 64x64 and ImageNet statistics at 32x32
    es: to_tensors sobre imágenes reales: EfficientNet-Lite0 a 64x64 y estadísticas de ImageNet a 32x32
    """
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
        if seen["changed"]:  # seen in the student process: feedback, never points
            note(T("to_tensors changed its input arrays: work on a copy, the caller's data must not change.",
                   "to_tensors cambió sus arrays de entrada: trabaja sobre una copia, los datos de quien llama no deben "
                   "cambiar."))


def returned_state(common, model, call):
    """The state of a model in the student process as a dict of plain tensors (a failure if it has none)."""
    try:
        return trusted.as_dict(common.state(model))
    except Exception:  # not a module: its error comes back from the student process
        fail(T("{c} is not a torch module the grader can read (no state_dict).",
               "{c} no es un módulo de torch que el corrector pueda leer (sin state_dict).").format(c=call))


def head_of(state, head=HEAD):
    return {k: v for k, v in state.items() if k.startswith(head + ".")}


def check_head(got: dict, expected: dict, call: str, hint):
    """The head tensors of ``got`` within tolerance of the grader's oracle ``expected`` (names under HEAD)."""
    names = sorted(head_of(expected))
    off = trusted.state_close(expected, got, names)
    if off:
        fail(T("after {c}, {k} is not what the statement's procedure gives on the grader's copy of the same network "
               "and batches.", "tras {c}, {k} no es lo que da el procedimiento del enunciado en la copia del corrector "
               "de la misma red con los mismos batches.").format(c=call, k=off[0]), hint)


@pytest.mark.task("6.2")
def test_head_replaced_on_each_backbone_architecture(tl, probes, common, lite0_ready):
    """replace_head on EfficientNet-Lite0 (pretrained), resnet18 and mobilenet_v3_small: the state is the backbone's
    with nn.Linear(num_features, 10) as its head, every other tensor the pretrained one, the new head returned
    es: replace_head en EfficientNet-Lite0 (preentrenada), resnet18 y mobilenet_v3_small: el estado de la red base con nn.Linear(num_features, 10) como cabeza, los demás tensores preentrenados, la nueva cabeza devuelta
    """
    for name, pretrained in [(lite0_ready, True), ("resnet18", False), ("mobilenet_v3_small", False)]:
        mine = trusted.backbone(name, pretrained)
        backbone = probes.load_backbone(name, pretrained=pretrained)
        head = tl.replace_head(backbone, 10)
        call = f"replace_head({name})"
        raw = common.state(backbone.get("model"))
        trusted.load_returned(name, raw, call, pretrained)  # shapes: nn.Linear(num_features, 10) at the head
        state = trusted.as_dict(raw)
        moved = trusted.differing(trusted.pristine_state(name, pretrained), state, skip=mine.head)
        check_equal(moved, [], call=f"pretrained tensors changed by {call}",
                    hint=T("only the head is replaced; the convolutional part keeps its pretrained weights.",
                           "solo se sustituye la cabeza; la parte convolucional conserva sus pesos preentrenados."))
        returned = returned_state(common, head, f"what {call} returned")
        in_model = {k[len(mine.head) + 1:]: v for k, v in head_of(state, mine.head).items()}
        same = sorted(returned) == sorted(in_model) and all(torch.equal(returned[k], in_model[k]) for k in in_model)
        check_equal(same, True, call=f"{call} returns the new head (the tensors of getattr(model, '{mine.head}'))",
                    hint=T("setattr(backbone.model, backbone.head, new_head) and return new_head.",
                           "setattr(backbone.model, backbone.head, nueva_cabeza) y devuelve nueva_cabeza."))


def loaded_model(probes, name):
    return probes.load_backbone(name).get("model")


@pytest.mark.task("6.3")
def test_frozen_backbone_is_bit_identical_after_training(tl, probes, common, lite0_ready, small_cifar):
    """After freeze_backbone, four SGD steps over every parameter change the head as the grader's frozen copy does, and
    no backbone tensor
    es: Tras freeze_backbone, cuatro pasos de SGD sobre todos los parámetros cambian la cabeza como en la copia congelada del corrector, y ningún tensor de la red base
    """
    model = loaded_model(probes, lite0_ready)
    tl.freeze_backbone(model, HEAD)
    x, y = real_batch(small_cifar)
    optimizer = probes.sgd(model, 0.1, 0.9)  # over every parameter: only what requires gradients can move
    for _ in range(2):
        probes.steps(model, optimizer, probes.loader(x, y, 32))
    got = returned_state(common, model, "the model")

    def oracle():
        mine = trusted.backbone(lite0_ready).model
        trusted.set_trainable(mine, HEAD)
        sgd = torch.optim.SGD(mine.parameters(), lr=0.1, momentum=0.9)
        for _ in range(2):
            trusted.run_steps(mine, sgd, trusted.batches(x, y, 32))
        return dict(mine.state_dict())

    moved = trusted.differing(trusted.pristine_state(lite0_ready), got, skip=HEAD)
    if moved:
        fail(T("{n} tensors of the frozen backbone changed during training, for example {k}; expected all of them bit-identical.",
               "{n} tensores de la red base congelada cambiaron al entrenar, por ejemplo {k}; se esperaba que todos quedaran idénticos bit a bit.")
             .format(n=len(moved), k=moved[0]), FREEZE_HINT)
    check_head(got, trusted.without_autograd_threads(oracle), "freeze_backbone and 4 SGD steps",
               T("the head's parameters must still require gradients after freeze_backbone.",
                 "los parámetros de la cabeza deben seguir requiriendo gradiente tras freeze_backbone."))


@pytest.mark.task("6.3")
def test_train_mode_on_the_real_backbone(tl, probes, common, lite0_ready, small_cifar):
    """train_mode: a forward pass of the frozen EfficientNet-Lite0 keeps every BatchNorm statistic and computes what
    the eval-mode backbone computes; unfrozen, the BatchNorm statistics update as in model.train()
    es: train_mode: una pasada hacia delante de la EfficientNet-Lite0 congelada conserva todas las estadísticas de BatchNorm y calcula lo mismo que la red base en modo eval; descongelada, las estadísticas se actualizan como con model.train()
    """
    x, _ = real_batch(small_cifar, n=16)
    names = oracles.head_names(trusted.pristine_state(lite0_ready).keys(), HEAD)
    model = loaded_model(probes, lite0_ready)
    probes.set_trainable(model, names)
    tl.train_mode(model)
    out = tensor_of(probes.forward_as_is(model, x, 7), "model(x) after train_mode(model)")
    got = returned_state(common, model, "the model")
    mine = trusted.backbone(lite0_ready).model
    trusted.set_trainable(mine, HEAD)
    trusted.frozen_train_mode(mine)
    torch.manual_seed(7)
    with torch.no_grad():
        expected = mine(x)
    moved = trusted.differing(trusted.pristine_state(lite0_ready), got)
    if moved or not trusted.close(out, expected, 1e-4, 1e-5):
        fail(T("after train_mode(frozen model) a forward pass changed {n} BatchNorm statistics (for example {k}) "
               "or gave other outputs than the frozen backbone in eval mode; expected none changed.",
               "tras train_mode(modelo congelado) una pasada hacia delante cambió {n} estadísticas de BatchNorm "
               "(por ejemplo {k}) o dio salidas distintas de la red congelada en modo evaluación; no debía cambiar ninguna.")
             .format(n=len(moved), k=moved[0] if moved else "-"), BN_HINT)
    model = loaded_model(probes, lite0_ready)
    probes.set_mode(model, False)
    tl.train_mode(model)
    probes.forward_as_is(model, x, 7)
    got = returned_state(common, model, "the model")
    mine = trusted.backbone(lite0_ready).model
    trusted.set_trainable(mine, None)
    mine.train()
    with torch.no_grad():
        mine(x)
    expected = dict(mine.state_dict())
    buffers = [k for k in expected if k.endswith("running_mean")]
    off = trusted.state_close(expected, got, buffers, 1e-4, 1e-6)
    check_equal(len(off), 0, call=f"BatchNorm running means (of {len(buffers)}) not updated as in model.train() "
                                  "after train_mode(unfrozen model) and a forward pass",
                hint=T("when fine-tuning nothing is frozen and train_mode is model.train().",
                       "al hacer fine-tuning nada está congelado y train_mode es model.train()."))


@pytest.mark.task("6.4")
def test_only_the_head_is_in_the_optimizer(tl, probes, common, lite0_ready, small_cifar):
    """make_optimizer on the frozen EfficientNet-Lite0, then everything made trainable: two steps move the head as
    Adam over the head alone at the given lr does, and no backbone tensor
    es: make_optimizer sobre la EfficientNet-Lite0 congelada y después todo entrenable: dos pasos mueven la cabeza como Adam solo sobre la cabeza con el lr dado, y ningún tensor de la red base
    """
    names = oracles.head_names(trusted.pristine_state(lite0_ready).keys(), HEAD)
    model = loaded_model(probes, lite0_ready)
    every = probes.parameter_names(model)
    probes.set_trainable(model, [n for n in every if n.startswith(HEAD + ".")])
    optimizer = tl.make_optimizer(model, 3e-4)
    probes.set_trainable(model, every)  # what the optimizer holds is fixed now: only it decides what moves
    x, y = real_batch(small_cifar)
    probes.steps(model, optimizer, probes.loader(x, y, 32))
    got = returned_state(common, model, "the model")
    moved = trusted.differing(trusted.pristine_state(lite0_ready), got, skip=HEAD)
    if moved:
        fail(T("{n} tensors of the backbone moved when the optimizer of make_optimizer(frozen model, 3e-4) stepped, for "
               "example {k}: it holds frozen parameters; expected only the head's.",
               "{n} tensores de la red base se movieron con los pasos del optimizador de make_optimizer(modelo congelado, "
               "3e-4), por ejemplo {k}: contiene parámetros congelados; se esperaban solo los de la cabeza.")
             .format(n=len(moved), k=moved[0]),
             T("the optimizer gets only [p for p in model.parameters() if p.requires_grad]: step c of the "
               "deck trains the new head, and frozen tensors have no business in the optimizer.",
               "el optimizador recibe solo [p for p in model.parameters() if p.requires_grad]: el paso c del "
               "tema entrena la cabeza nueva y los tensores congelados no pintan nada en el optimizador."))

    def oracle():
        mine = trusted.backbone(lite0_ready).model
        trusted.set_trainable(mine, None)
        adam = torch.optim.Adam([p for n, p in mine.named_parameters() if n in names], lr=3e-4)
        trusted.run_steps(mine, adam, trusted.batches(x, y, 32))
        return dict(mine.state_dict())

    check_head(got, trusted.without_autograd_threads(oracle), "two steps of make_optimizer(frozen model, 3e-4)",
               T("torch.optim.Adam over the trainable parameters with lr=lr.",
                 "torch.optim.Adam sobre los parámetros entrenables con lr=lr."))


@pytest.mark.task("6.5")
def test_training_a_frozen_model_keeps_batchnorm_statistics(tl, probes, common, lite0_ready, small_cifar):
    """train_one_epoch on the frozen EfficientNet-Lite0 (a DataLoader, Adam over the head): every backbone tensor
    bit-identical, the head trained as the grader's frozen copy is
    es: train_one_epoch sobre la EfficientNet-Lite0 congelada (un DataLoader, Adam sobre la cabeza): todos los tensores de la red base idénticos bit a bit y la cabeza entrenada como la de la copia congelada del corrector
    """
    names = oracles.head_names(trusted.pristine_state(lite0_ready).keys(), HEAD)
    model = loaded_model(probes, lite0_ready)
    probes.set_trainable(model, names)
    x, y = real_batch(small_cifar)
    probes.seed(11)
    tl.train_one_epoch(model, probes.loader(x, y, 32), probes.adam_over(model.get(HEAD), 1e-3), "cpu")
    got = returned_state(common, model, "the model")
    moved = trusted.differing(trusted.pristine_state(lite0_ready), got, skip=HEAD)
    if moved:
        fail(T("after one epoch with a frozen backbone, {n} backbone tensors changed (BatchNorm statistics among them), "
               "for example {k}; expected all of them bit-identical.",
               "tras una época con la red base congelada cambiaron {n} tensores de la red base (entre ellos "
               "estadísticas de BatchNorm), por ejemplo {k}; se esperaba que todos quedaran idénticos bit a bit.")
             .format(n=len(moved), k=moved[0]), BN_HINT)

    def oracle():
        mine = trusted.backbone(lite0_ready).model
        trusted.set_trainable(mine, HEAD)
        adam = torch.optim.Adam(getattr(mine, HEAD).parameters(), lr=1e-3)
        torch.manual_seed(11)
        trusted.run_steps(mine, adam, trusted.batches(x, y, 32), mode=trusted.frozen_train_mode)
        return dict(mine.state_dict())

    check_head(got, trusted.without_autograd_threads(oracle), "train_one_epoch(frozen model, loader, adam, 'cpu')",
               T("each batch: optimizer.zero_grad(), forward, cross-entropy loss, loss.backward(), optimizer.step(), "
                 "the model in train_mode.", "en cada batch: optimizer.zero_grad(), forward, entropía cruzada, "
                 "loss.backward(), optimizer.step(), con el modelo en train_mode."))


@pytest.mark.task("6.5")
def test_evaluate_uses_eval_mode_and_builds_no_graph(tl, probes, common, synthetic, note):
    """evaluate on a model with dropout and BatchNorm handed over in train mode: the eval-mode loss and accuracy,
    BatchNorm statistics untouched
    es: evaluate sobre un modelo con dropout y BatchNorm entregado en modo train: la pérdida y la accuracy en modo eval, sin tocar las estadísticas de BatchNorm
    """
    images, labels = synthetic
    x, y = reference_tensors(images, labels, TF_MEAN, TF_STD, 32)
    model = probes.tiny_backbone(dropout=0.5).get("model")
    watch = probes.watch_forward(model)
    probes.set_mode(model, True)
    probes.seed(20)
    got = tl.evaluate(model, probes.loader(x, y, 16), "cpu")
    seen = probes.forwards_seen(watch)
    mine = trusted.tiny(dropout=0.5).model.eval()
    with torch.no_grad():
        logits = mine(x)
    expected = (torch.nn.functional.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item())
    if not (isinstance(got, tuple) and len(got) == 2 and all(type(v) in (float, int) for v in got)):
        fail(T("evaluate returned {g!r}; expected a (loss, accuracy) tuple of floats.",
               "evaluate devolvió {g!r}; se esperaba una tupla (loss, accuracy) de floats.").format(g=got))
    if not np.allclose(np.array(got, dtype=float), np.array(expected), rtol=1e-5, atol=1e-7):
        fail(T("evaluate returned {g} for a model with dropout and BatchNorm; in evaluation mode it scores {e}.",
               "evaluate devolvió {g} para un modelo con dropout y BatchNorm; en modo evaluación obtiene {e}.")
             .format(g=tuple(round(v, 5) for v in got), e=tuple(round(v, 5) for v in expected)),
             T("call model.eval() before evaluating; average over examples, not batches.",
               "llama a model.eval() antes de evaluar; promedia sobre ejemplos, no sobre batches."))
    moved = trusted.differing(dict(mine.state_dict()), returned_state(common, model, "the model"))
    check_equal(moved, [], call="BatchNorm statistics changed by evaluate",
                hint=T("call model.eval() before evaluating.", "llama a model.eval() antes de evaluar."))
    if isinstance(seen, list) and any(isinstance(s, list) and len(s) == 2 and s[1] for s in seen):
        note(T("evaluate built an autograd graph: wrap it in `with torch.no_grad():` (memory and time).",
               "evaluate construyó un grafo de autograd: envuélvelo en `with torch.no_grad():` (memoria y tiempo)."))


@pytest.mark.task("6.6")
def test_extract_features_match_the_frozen_backbone(tl, probes, common, lite0_ready, small_cifar):
    """extract_features on EfficientNet-Lite0: 1280 features per image, equal to the backbone's; the model's state
    (its head included) untouched
    es: extract_features en EfficientNet-Lite0: 1280 características por imagen, iguales a las de la red base; el estado del modelo (cabeza incluida) intacto
    """
    model = loaded_model(probes, lite0_ready)
    x, _ = real_batch(small_cifar, n=48)
    probes.set_mode(model, True)  # extract_features must switch to eval itself
    got = tensor_of(tl.extract_features(model, HEAD, x, batch_size=20), "extract_features(model, head, x[:48], batch_size=20)")
    expected = oracles.features(lite0_ready, x)
    check_equal(tuple(got.shape), tuple(expected.shape), call="extract_features(model, head, x[:48]).shape")
    check_close(got.numpy(), expected.numpy(), name="features", call="extract_features(model, head, x[:48], batch_size=20)",
                rtol=1e-4, atol=1e-5, hint=T("eval mode (BatchNorm with its ImageNet statistics) and the head replaced by nn.Identity().",
                                             "modo evaluación (BatchNorm con sus estadísticas de ImageNet) y la cabeza sustituida por nn.Identity()."))
    moved = trusted.differing(trusted.pristine_state(lite0_ready), returned_state(common, model, "the model"))
    check_equal(moved, [], call="tensors of the model (head included) missing or changed after extract_features",
                hint=T("put the head back (setattr) before returning.", "vuelve a poner la cabeza (setattr) antes de devolver."))


@pytest.mark.task("6.7")
def test_fit_frozen_is_reproducible(tl, common, small_cifar):
    """fit_frozen twice with the same seed trains bit-identical heads; another seed another head
    es: fit_frozen dos veces con la misma semilla entrena cabezas idénticas bit a bit; otra semilla, otra cabeza
    """
    train_part, val_part = small_cifar
    heads = []
    for seed in (3, 3, 4):
        common.seed_everything(0, threads=BUDGET["threads"])
        result = tl.fit_frozen(*train_part, *val_part, size=32, epochs=2, lr=1e-3, batch_size=50, seed=seed)
        if not (isinstance(result, tuple) and len(result) == 2):
            fail(T("fit_frozen returned {v!r}; expected a tuple (model, history).",
                   "fit_frozen devolvió {v!r}; se esperaba una tupla (model, history).").format(v=result))
        heads.append(head_of(returned_state(common, result[0], "fit_frozen(...)[0]")))

    def same(a, b):
        return sorted(a) == sorted(b) and bool(a) and all(torch.equal(a[k], b[k]) for k in a)

    if not same(heads[0], heads[1]):
        fail(T("two runs with seed 3 trained different heads; expected bit-identical ones.",
               "dos ejecuciones con semilla 3 entrenaron cabezas distintas; se esperaban idénticas bit a bit."),
             T("torch.manual_seed(seed) before creating the new head, and seed the loader's shuffling.",
               "torch.manual_seed(seed) antes de crear la cabeza nueva, y siembra el barajado del loader."))
    if same(heads[0], heads[2]):
        fail(T("seeds 3 and 4 trained the same head; expected different ones: fit_frozen ignores its seed.",
               "las semillas 3 y 4 entrenaron la misma cabeza; se esperaban distintas: fit_frozen ignora la semilla."))


def graded_run(tl, helpers, common, graded_subset, progress, once):
    """The budgeted fit_frozen on the real training subset, done once for the tests that need it; its state
    loaded into the grader's own network and evaluated here."""
    def train():
        progress(0, 1, f"training the head ({BUDGET['epochs']} epochs)")
        run = measure.train_and_measure(tl, helpers, common.seed_everything, graded_subset,
                                        seed=measure.ASSIGNMENT.calibration["grading_seed"], perturbation_seed=fresh_seed())
        progress(1, 1, "trained")
        return run

    return once("graded run", train)


def require_pretrained_backbone(run, accuracy):
    """Accuracy points need the evidence that the backbone is the grader's pretrained one, frozen: bit for bit."""
    if run["moved"]:
        fail(T("test accuracy {a:.1%}, but {n} tensors of the returned backbone differ from the pretrained "
               "EfficientNet-Lite0 (for example {k}): transfer with a frozen backbone trains the head only, so the "
               "accuracy is not counted.",
               "accuracy en test {a:.1%}, pero {n} tensores de la red base devuelta difieren de la EfficientNet-Lite0 "
               "preentrenada (por ejemplo {k}): la transferencia con la red base congelada solo entrena la cabeza, así "
               "que la accuracy no cuenta.").format(a=accuracy, n=len(run["moved"]), k=run["moved"][0]), FROZEN_RUN_HINT)


def require_proof(run, accuracy):
    """Accuracy points need the evidence that the returned head was trained here, from a fresh initialization, on
    the features of the images given (:mod:`autograder.graders.a6.proof`): a head brought from elsewhere earns none."""
    proof = run["proof"]
    if not proof.ok:
        fail(T("test accuracy {a:.1%}, but the head could not be verified as trained here: ",
               "accuracy en test {a:.1%}, pero no se pudo verificar que la cabeza se entrenara aquí: ")
             .format(a=accuracy) + proof.why, measure.PROOF_HINT)
    return proof


def verified(proof):
    return T("; training verified by replaying {k} of {n} stretches", "; entrenamiento verificado repitiendo {k} de {n} "
             "tramos").format(k=len(proof.replayed), n=proof.segments)


FROZEN_RUN_HINT = T("load the pretrained backbone, freeze it and train only the new head; BatchNorm layers of the "
                    "frozen part stay in eval mode.", "carga la red preentrenada, congélala y entrena solo la cabeza "
                    "nueva; las BatchNorm de la parte congelada se quedan en modo evaluación.")


@pytest.mark.task("6.7")
def test_accuracy_above_the_calibrated_threshold(tl, helpers, common, graded_subset, progress, once, note):
    """fit_frozen's head on the grader's pristine EfficientNet-Lite0 reaches the calibrated test accuracy, measured here
    es: La cabeza de fit_frozen sobre la EfficientNet-Lite0 intacta del corrector alcanza la accuracy en test calibrada, medida aquí
    """
    threshold = measure.ASSIGNMENT.calibrated().get("threshold")
    if threshold is None:
        fail("grader configuration: no calibrated threshold; run `autograder calibrate a6`.")
    run = graded_run(tl, helpers, common, graded_subset, progress, once)
    accuracy = run["test_accuracy"]
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
    require_pretrained_backbone(run, accuracy)
    proof = require_proof(run, accuracy)
    note(T("test accuracy {a:.1%}, pass mark {t:.1%} (measured by the grader's own network)",
           "accuracy en test {a:.1%}, mínimo {t:.1%} (medida con la red del corrector)").format(a=accuracy, t=threshold)
         + verified(proof))


@pytest.mark.task("6.7")
def test_transfer_beats_training_from_scratch(tl, helpers, common, graded_subset, progress, once, note):
    """On the same training images, epochs and seed, transfer beats the best epoch of the A4 LeNet from scratch
    es: Con las mismas imágenes de entrenamiento, épocas y semilla, la transferencia supera la mejor época de la LeNet de A4 entrenada desde cero
    """
    run = graded_run(tl, helpers, common, graded_subset, progress, once)
    accuracy = run["test_accuracy"]
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
    require_pretrained_backbone(run, accuracy)
    proof = require_proof(run, accuracy)
    note(T("transfer {a:.1%}, LeNet from scratch {s:.1%} (its best epoch)",
           "transferencia {a:.1%}, LeNet desde cero {s:.1%} (su mejor época)").format(a=accuracy, s=max(scratch))
         + verified(proof))


@pytest.mark.task("6.7")
def test_backbone_bit_identical_after_the_graded_run(tl, helpers, common, graded_subset, progress, once):
    """After the graded fit_frozen, every backbone weight and BatchNorm statistic equals the grader's pretrained copy
    es: Tras el fit_frozen calificado, todos los pesos y estadísticas de BatchNorm de la red base son iguales a los de la copia preentrenada del corrector
    """
    run = graded_run(tl, helpers, common, graded_subset, progress, once)
    moved, backbone = run["moved"], trusted.pristine_state(BUDGET["backbone"])
    if moved:
        fail(T("{n} of the {m} tensors of the pretrained backbone differ after fit_frozen, for example {k}; expected all of them bit-identical.",
               "{n} de los {m} tensores de la red base preentrenada difieren tras fit_frozen, por ejemplo {k}; se esperaba que todos quedaran idénticos bit a bit.")
             .format(n=len(moved), m=len([k for k in backbone if not k.startswith(HEAD + ".")]), k=moved[0]), FROZEN_RUN_HINT)


@pytest.mark.task("6.7")
def test_reported_history_matches_the_graders_evaluation(tl, helpers, common, graded_subset, progress, once, curves):
    """The validation accuracy fit_frozen reports equals the grader's own evaluation of the returned model
    es: La accuracy de validación que informa fit_frozen coincide con la evaluación que hace el corrector del modelo devuelto
    """
    run = graded_run(tl, helpers, common, graded_subset, progress, once)
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
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here: the CPU-vs-GPU comparison did not run\n"
                    "es: no hay GPU CUDA aquí: la comparación entre CPU y GPU no se ejecutó")
def test_fit_frozen_on_gpu_agrees_with_cpu(tl, common, lite0_ready, small_cifar):
    """fit_frozen(device='cuda') trains a head whose validation logits, computed by the grader, agree with the CPU
    run's within 1e-3
    es: fit_frozen(device='cuda') entrena una cabeza cuyos logits de validación, calculados por el corrector, coinciden con los de la ejecución en CPU hasta 1e-3
    """
    train_part, val_part = small_cifar
    kwargs = dict(size=32, epochs=2, lr=1e-3, batch_size=50, seed=3)
    x = reference_tensors(*val_part, TF_MEAN, TF_STD, 32)[0]
    logits = {}
    for device in ("cpu", "cuda"):
        common.seed_everything(0, threads=BUDGET["threads"])
        model = tl.fit_frozen(*train_part, *val_part, device=device, **kwargs)[0]
        net = trusted.load_returned(lite0_ready, common.state(model), f"fit_frozen(..., device='{device}')")
        logits[device] = trusted_models.logits(net, x)
    check_close(logits["cuda"].numpy(), logits["cpu"].numpy(), name="validation logits", call="GPU vs CPU",
                rtol=1e-3, atol=1e-3, hint=T("move the model and every batch to `device`; seed as on the CPU.",
                                              "mueve el modelo y cada batch a `device`; siembra igual que en la CPU."))


@pytest.mark.task("6.8")
def test_unfreeze_makes_everything_trainable(tl, probes, common, lite0_ready, small_cifar):
    """unfreeze after freezing: one SGD step over every parameter moves each of them as on the grader's unfrozen copy
    es: unfreeze tras congelar: un paso de SGD sobre todos los parámetros mueve cada uno como en la copia descongelada del corrector
    """
    model = loaded_model(probes, lite0_ready)
    probes.set_trainable(model, oracles.head_names(trusted.pristine_state(lite0_ready).keys(), HEAD))
    tl.unfreeze(model)
    x, y = real_batch(small_cifar, n=16)
    probes.steps(model, probes.sgd(model, 0.1), probes.loader(x, y, 16))
    got = returned_state(common, model, "the model")

    def oracle():
        mine = trusted.backbone(lite0_ready).model
        trusted.set_trainable(mine, None)
        trusted.run_steps(mine, torch.optim.SGD(mine.parameters(), lr=0.1), trusted.batches(x, y, 16))
        return dict(mine.state_dict()), [n for n, _ in mine.named_parameters()]

    expected, names = trusted.without_autograd_threads(oracle)
    off = trusted.state_close(expected, got, names)
    check_equal(len(off), 0, call=f"parameters (of {len(names)}) that did not train as unfrozen ones after unfreeze",
                hint=T("p.requires_grad = True for every parameter.", "p.requires_grad = True para todos los parámetros."))


@pytest.mark.task("6.8")
def test_finetune_groups_give_the_backbone_a_smaller_lr(tl, probes, common, lite0_ready, small_cifar):
    """finetune_optimizer on EfficientNet-Lite0: two steps move the backbone as Adam at backbone_lr and the head as
    Adam at lr do, on the grader's copy
    es: finetune_optimizer en EfficientNet-Lite0: dos pasos mueven la red base como Adam con backbone_lr y la cabeza como Adam con lr, en la copia del corrector
    """
    model = loaded_model(probes, lite0_ready)
    probes.set_trainable(model, probes.parameter_names(model))
    x, y = real_batch(small_cifar)
    optimizer = tl.finetune_optimizer(model, HEAD, lr=1e-3, backbone_lr=5e-5)
    probes.steps(model, optimizer, probes.loader(x, y, 32))
    got = returned_state(common, model, "the model")

    def oracle():
        mine = trusted.backbone(lite0_ready).model
        trusted.set_trainable(mine, None)
        head = [p for n, p in mine.named_parameters() if n.startswith(HEAD + ".")]
        body = [p for n, p in mine.named_parameters() if not n.startswith(HEAD + ".")]
        adam = torch.optim.Adam([{"params": body, "lr": 5e-5}, {"params": head, "lr": 1e-3}])
        trusted.run_steps(mine, adam, trusted.batches(x, y, 32))
        return dict(mine.state_dict()), [n for n, _ in mine.named_parameters()]

    expected, names = trusted.without_autograd_threads(oracle)
    off = trusted.state_close(expected, got, names, rtol=1e-3, atol=2e-6)
    body_off = [n for n in off if not n.startswith(HEAD + ".")]
    check_equal((len(body_off), len(off) - len(body_off)), (0, 0),
                call="(backbone parameters, head parameters) not moved as Adam with backbone_lr=5e-5 and lr=1e-3 moves "
                     "them, after two steps of finetune_optimizer(model, head, lr=1e-3, backbone_lr=5e-5)",
                hint=T("fine-tuning: the pretrained weights move with the smaller backbone_lr, the new head with lr; "
                       "two parameter groups, every parameter in exactly one.",
                       "fine-tuning: los pesos preentrenados se mueven con el backbone_lr menor y la cabeza nueva con lr; "
                       "dos grupos de parámetros, cada parámetro en uno solo."))


@pytest.mark.task("6.8")
def test_fine_tune_trains_the_backbone_at_its_own_rate(tl, probes, common, lite0_ready, small_cifar):
    """fine_tune from a frozen model: backbone_lr=0 keeps the backbone weights, backbone_lr>0 moves them; head always trains
    es: fine_tune desde un modelo congelado: backbone_lr=0 conserva los pesos de la red base y backbone_lr>0 los mueve; la cabeza siempre se entrena
    """
    pretrained = trusted.pristine_state(lite0_ready)
    x, y = real_batch(small_cifar, n=32)
    results, history = [], None
    for backbone_lr in (0.0, 1e-4):
        model = probes.load_backbone(lite0_ready).get("model")
        names = probes.parameter_names(model)
        probes.set_trainable(model, oracles.head_names(names, HEAD))
        _, history = tl.fine_tune(model, HEAD, x, y, x[:16], y[:16], epochs=1, lr=1e-3,
                                  backbone_lr=backbone_lr, batch_size=16, seed=0)
        parameters = set(names)
        moved = set(trusted.differing({k: v for k, v in pretrained.items() if k in parameters},
                                      returned_state(common, model, "the model")))
        results.append((any(not n.startswith(HEAD + ".") for n in moved), any(n.startswith(HEAD + ".") for n in moved)))
    check_equal(results, [(False, True), (True, True)],
                call="[(backbone moved, head moved)] after fine_tune with backbone_lr=0 and with backbone_lr=1e-4",
                hint=T("fine_tune unfreezes the model and trains it with finetune_optimizer(model, head, lr, backbone_lr).",
                       "fine_tune descongela el modelo y lo entrena con finetune_optimizer(model, head, lr, backbone_lr)."))
    check_equal(len(history["train_loss"]) if isinstance(history, dict) and isinstance(history.get("train_loss"), list)
                else history, 1, call="len(fine_tune(..., epochs=1)[1]['train_loss'])")
