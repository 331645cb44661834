"""A4 hidden graders: loop behaviour, reproducibility, and accuracy on the real CIFAR-10."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from autograder.feedback import T, check_equal, fail
from autograder.gradcheck import check_close
from autograder.graders.a4 import measure, probes
from autograder.repro import seed_everything

ZERO_GRAD_HINT = T("call optimizer.zero_grad() before every loss.backward(): PyTorch adds new gradients to the old ones.",
                   "llama a optimizer.zero_grad() antes de cada loss.backward(): PyTorch suma los gradientes nuevos a los anteriores.")


@pytest.mark.task("4.1")
def test_dropout_variant(cnn):
    """build_lenet(0.5): three Dropout(0.5) before the FC layers, same parameters"""
    model = cnn.build_lenet(0.5)
    drops = [layer.p for layer in model if isinstance(layer, nn.Dropout)]
    check_equal(drops, [0.5, 0.5, 0.5], call="[d.p for d in build_lenet(0.5) if Dropout]")
    check_equal(sum(p.numel() for p in model.parameters()), 62006, call="parameters of build_lenet(0.5)",
                hint=T("dropout has no parameters.", "el dropout no tiene parámetros."))


@pytest.mark.task("4.2")
def test_to_tensors_exact_on_real_images(cnn, small_cifar):
    """to_tensors on real images equals the normalization of the statement; input untouched"""
    (images, labels), _ = small_cifar
    before = images.copy()
    x, y = cnn.to_tensors(images, labels)
    expected_x, expected_y = probes.reference_tensors(images, labels)
    check_close(np.asarray(x), expected_x.numpy(), name="x", call="to_tensors(train_images, train_labels)",
                rtol=1e-5, atol=1e-5, hint=T("(value/255 - MEAN[c]) / STD[c] per channel c, channels first.",
                                             "(valor/255 - MEAN[c]) / STD[c] por canal c, canales primero."))
    check_equal(torch.equal(torch.as_tensor(y), expected_y), True, call="labels of to_tensors(...) equal the input labels")
    check_equal(np.array_equal(images, before), True, call="the images array is unchanged by to_tensors",
                hint=T("work on a copy; the caller's data must not change.", "trabaja sobre una copia; los datos de quien llama no deben cambiar."))


@pytest.mark.task("4.3")
def test_loader_order_is_seeded(cnn, synthetic):
    """make_loader: same seed same order, another seed another order, shuffle=False keeps the order"""
    x, y = probes.reference_tensors(*synthetic)
    order = lambda loader: torch.cat([yb for _, yb in loader]).tolist()  # noqa: E731
    first = order(cnn.make_loader(x, y, 8, shuffle=True, seed=5))
    check_equal(order(cnn.make_loader(x, y, 8, shuffle=True, seed=5)), first, call="make_loader(..., seed=5) twice",
                hint=T("seed the loader's generator (torch.Generator().manual_seed(seed)).",
                       "siembra el generador del loader (torch.Generator().manual_seed(seed))."))
    if order(cnn.make_loader(x, y, 8, shuffle=True, seed=6)) == first:
        fail(T("make_loader gives the same order for seeds 5 and 6: the seed is not used.",
               "make_loader da el mismo orden con las semillas 5 y 6: no se usa la semilla."))
    check_equal(order(cnn.make_loader(x, y, 8, shuffle=False)), y.tolist(), call="make_loader(..., shuffle=False)")


@pytest.mark.task("4.4")
def test_gradients_are_zeroed_every_step(cnn, synthetic):
    """train_one_epoch zeroes the gradients before each backward pass"""
    x, y = probes.reference_tensors(*synthetic)
    model = probes.small_net()
    batches = probes.tracked_batches(x, y, 16)
    expected = probes.grad_of_batch(model, x[48:], y[48:])  # the last batch; lr=0 keeps the weights fixed
    cnn.train_one_epoch(model, batches, torch.optim.SGD(model.parameters(), lr=0.0), "cpu")
    got = [p.grad for p in model.parameters()]
    if any(g is None for g in got):
        fail(T("after train_one_epoch the parameters have no gradient: loss.backward() was not called.",
               "tras train_one_epoch los parámetros no tienen gradiente: no se llamó a loss.backward()."))
    accumulated = probes.grad_of_batch(model, x, y)
    if torch.allclose(got[0], 4 * accumulated[0], rtol=1e-4, atol=1e-6):
        fail(T("after an epoch of 4 batches the gradient is the sum of all 4 batches' gradients.",
               "tras una época de 4 batches el gradiente es la suma de los gradientes de los 4."), ZERO_GRAD_HINT)
    check_close(got[0].numpy(), expected[0].numpy(), name="conv.weight.grad", call="after train_one_epoch (lr=0)",
                rtol=1e-4, atol=1e-6, hint=ZERO_GRAD_HINT)


@pytest.mark.task("4.4")
def test_training_mode_steps_and_device_moves(cnn, synthetic):
    """train_one_epoch: train mode, one optimizer step per batch, batches moved to the device"""
    x, y = probes.reference_tensors(*synthetic)
    model = probes.small_net(dropout=0.5)
    model.eval()
    modes = []
    model.register_forward_pre_hook(lambda module, args: modes.append(module.training))
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    steps = []
    optimizer.register_step_post_hook(lambda *args: steps.append(1))
    cnn.train_one_epoch(model, probes.tracked_batches(x, y, 16), optimizer, torch.device("cpu"))
    check_equal(all(modes) and len(modes) == 4, True, call="model.training during the 4 forward passes",
                hint=T("call model.train() at the start: dropout must be active while training.",
                       "llama a model.train() al empezar: el dropout debe estar activo al entrenar."))
    check_equal(len(steps), 4, call="optimizer.step() calls in an epoch of 4 batches")
    if all(torch.equal(a, b) for a, b in zip(before, model.parameters())):
        fail(T("the weights did not change.", "los pesos no cambiaron."))
    check_equal(probes.Tracked.moves.count("cpu") >= 8, True, call="xb.to(device) and yb.to(device) for every batch",
                hint=T("move every batch to the device you are given: xb, yb = xb.to(device), yb.to(device).",
                       "mueve cada batch al dispositivo recibido: xb, yb = xb.to(device), yb.to(device)."))


@pytest.mark.task("4.5")
def test_evaluate_uses_eval_mode_and_builds_no_graph(cnn, synthetic):
    """evaluate: eval mode (dropout off), torch.no_grad(), batches moved to the device"""
    x, y = probes.reference_tensors(*synthetic)
    model = probes.small_net(dropout=0.5)
    model.train()
    seen = []
    model.register_forward_pre_hook(lambda module, args: seen.append((module.training, torch.is_grad_enabled())))
    got = [cnn.evaluate(model, probes.tracked_batches(x, y, 16), "cpu") for _ in range(2)]
    if any(training for training, _ in seen):
        fail(T("evaluate ran the model in training mode, so dropout changed the predictions (two calls gave {a} and {b}).",
               "evaluate ejecutó el modelo en modo entrenamiento y el dropout cambió las predicciones ({a} y {b}).")
             .format(a=got[0], b=got[1]), T("call model.eval() before evaluating.", "llama a model.eval() antes de evaluar."))
    if any(grad for _, grad in seen):
        fail(T("evaluate built an autograd graph (gradients were enabled in the forward pass).",
               "evaluate construyó un grafo de autograd (los gradientes estaban activos en el forward)."),
             T("wrap the evaluation loop in `with torch.no_grad():`.", "envuelve el bucle de evaluación en `with torch.no_grad():`."))
    check_equal(any(p.grad is not None for p in model.parameters()), False, call="gradients after evaluate")
    check_equal(probes.Tracked.moves.count("cpu") >= 8, True, call="xb.to(device) and yb.to(device) in evaluate",
                hint=T("move every batch to the device you are given.", "mueve cada batch al dispositivo recibido."))


@pytest.mark.task("4.6")
def test_fit_is_bit_identical_with_the_same_seed(cnn, small_cifar):
    """fit twice with the same seed gives bit-identical histories; another seed differs"""
    (train_x, train_y), (test_x, test_y) = small_cifar
    seed_everything(0, threads=measure.BUDGET["threads"])
    runs = [cnn.fit(train_x, train_y, test_x, test_y, epochs=1, lr=0.02, batch_size=64, seed=s)[1] for s in (3, 3, 4)]
    if runs[0] != runs[1]:
        fail(T("two runs with seed 3 gave different histories: {a} and {b}.",
               "dos ejecuciones con semilla 3 dieron historiales distintos: {a} y {b}.").format(a=runs[0], b=runs[1]),
             T("seed torch before building the model (torch.manual_seed(seed)) and seed the loader's shuffling.",
               "siembra torch antes de crear el modelo (torch.manual_seed(seed)) y el barajado del loader."))
    if runs[0] == runs[2]:
        fail(T("seeds 3 and 4 gave the same history: fit ignores its seed.",
               "las semillas 3 y 4 dieron el mismo historial: fit ignora la semilla."))


@pytest.mark.task("4.6")
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here: the CPU-vs-GPU comparison did not run")
def test_fit_on_gpu_agrees_with_cpu(cnn, small_cifar):
    """fit(device='cuda') trains on the GPU and agrees with the CPU run within 1e-3"""
    (train_x, train_y), (test_x, test_y) = small_cifar
    cpu = cnn.fit(train_x, train_y, test_x, test_y, epochs=1, lr=0.02, batch_size=64, seed=3, device="cpu")[1]
    model, gpu = cnn.fit(train_x, train_y, test_x, test_y, epochs=1, lr=0.02, batch_size=64, seed=3, device="cuda")
    check_equal(next(model.parameters()).device.type, "cuda", call="device of fit(..., device='cuda')[0]")
    check_close(np.array(gpu["train_loss"]), np.array(cpu["train_loss"]), name="train_loss", call="GPU vs CPU",
                rtol=1e-3, atol=1e-3)


def graded_run(cnn, cifar, progress, once):
    """The budgeted training run on the full CIFAR-10, done once for the tests that need it."""
    epochs = measure.BUDGET["epochs"]

    def train():
        progress(0, epochs, "training epochs")
        return measure.train_and_measure(
            cnn, *cifar, seed=measure.ASSIGNMENT.calibration["grading_seed"],
            on_epoch=lambda epoch, history: progress(epoch + 1, epochs, "training epochs"))

    return once("graded run", train)


@pytest.mark.task("4.6")
def test_cifar10_accuracy_above_the_calibrated_threshold(cnn, cifar, progress, once):
    """fit reaches the calibrated test accuracy on the real CIFAR-10 within the grader's budget"""
    threshold = measure.ASSIGNMENT.calibrated().get("threshold")
    if threshold is None:
        fail("grader configuration: no calibrated threshold; run `autograder calibrate a4`.")
    accuracy, _, _ = graded_run(cnn, cifar, progress, once)
    if accuracy < threshold:
        b = measure.BUDGET
        fail(T("test accuracy {a:.1%} after {e} epochs (lr {lr}, batch {bs}); the pass mark is {t:.1%}.",
               "accuracy en test {a:.1%} tras {e} épocas (lr {lr}, batch {bs}); el mínimo es {t:.1%}.")
             .format(a=accuracy, e=b["epochs"], lr=b["lr"], bs=b["batch_size"], t=threshold),
             T("the reference reaches about {m:.1%}. Check the normalization, zero_grad, that shuffling keeps labels "
               "with their images, and that the optimizer gets the model's parameters.",
               "la referencia llega a {m:.1%}. Revisa la normalización, zero_grad, que el barajado mantenga cada "
               "etiqueta con su imagen y que el optimizador reciba los parámetros del modelo.")
             .format(m=measure.ASSIGNMENT.calibrated().get("mean", threshold)))


@pytest.mark.task("4.6")
def test_reported_history_matches_the_graders_evaluation(cnn, cifar, progress, once):
    """The test accuracy fit reports equals the grader's own evaluation on the test set"""
    accuracy, history, _ = graded_run(cnn, cifar, progress, once)
    reported = history["test_accuracy"][-1] if history.get("test_accuracy") else None
    if reported is None or abs(reported - accuracy) > 1e-6:
        fail(T("fit reports a final test accuracy of {r}, but the returned model scores {a:.4f} on the test set.",
               "fit informa de una accuracy final en test de {r}, pero el modelo devuelto obtiene {a:.4f} en test.")
             .format(r=reported, a=accuracy),
             T("evaluate on the test loader (not the training one) after each epoch, in eval mode.",
               "evalúa con el loader de test (no el de entrenamiento) tras cada época, en modo evaluación."))
