"""Evidence that returned weights were trained, here, on the data the grader gave. Never shipped.

A network's weights say nothing about where they came from: a submission could return weights trained
offline (on the public test set, say) and adapt them to whatever the grader changed. The student process
therefore records its training run (:mod:`autograder.sandbox.helpers.training`): the training images of
each optimizer step and, every few steps, a checkpoint of the parameters and momentum buffers. None of it
is believed. This module checks, on the trusted side:

1. the record has the budget's shape: ``epochs`` passes, each a permutation of the training images in
   batches of ``batch_size``, one optimizer step per batch, the statement's optimizer settings;
2. its first checkpoint is an initialization (every tensor within PyTorch's default bound and uniform by a
   Kolmogorov-Smirnov test; the seeded ``build()`` passes, pretrained weights do not);
3. its last checkpoint is, bit for bit, the state of the model whose accuracy is graded;
4. replaying stretches of it with the statement's update rule, on the grader's own copy of the images and
   labels, from one checkpoint gives the next one. Which stretches is decided after the record is in
   hand: always the first and the last, the ones that moved the weights most, and others drawn at random
   with ``secrets`` (so a record cannot know which of its stretches will be looked at).

A record that reaches weights not trained on the given data must contain a stretch that is not such a
replay: a single jump is the largest move (always replayed); spreading the jump over many stretches makes
each likely to be drawn. See the README ("What the design does not claim") for what remains possible.
"""
from __future__ import annotations

import math
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn

from autograder.feedback import T

KS_ALPHA = 1e-6  # false rejection rate of the initialization test, per tensor


@dataclass
class Proof:
    """The verdict: ``ok``, and if not, ``why`` (bilingual); ``replayed`` segments and what they measured."""

    ok: bool
    why: T | None = None
    replayed: list[int] = field(default_factory=list)
    worst: float = 0.0  # largest replay discrepancy, as a fraction of its segment's own update
    segments: int = 0


def _refuse(en: str, es: str, **values) -> Proof:
    return Proof(False, T(en, es).format(**values))


def _flat(tensors) -> torch.Tensor:
    return torch.cat([t.detach().reshape(-1).double() for t in tensors])


def _is_tensor_list(value, n: int) -> bool:
    return isinstance(value, list) and len(value) == n and all(isinstance(t, torch.Tensor) for t in value)


def default_init_problem(params: list[torch.Tensor], model: nn.Module) -> str | None:
    """None if ``params`` (in ``model.parameters()`` order) look like a fresh PyTorch default initialization of
    ``model``'s Conv2d and Linear layers (uniform in +-1/sqrt(fan_in)); else which tensor does not."""
    names = [name for name, _ in model.named_parameters()]
    fan_in = {}
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            fan = module.weight[0].numel()
            fan_in[f"{name}.weight"] = fan_in[f"{name}.bias"] = fan
    for name, p in zip(names, params):
        if name not in fan_in:
            continue
        bound = 1 / math.sqrt(fan_in[name])
        values = p.detach().double().reshape(-1)
        if not bool(torch.isfinite(values).all()) or float(values.abs().max()) > bound * (1 + 1e-5):
            return name
        n = len(values)
        if n >= 50:
            u = np.sort(((values.numpy() / bound) + 1) / 2)
            ranks = np.arange(1, n + 1) / n
            statistic = max(float(np.max(ranks - u)), float(np.max(u - (ranks - 1 / n))))
            if statistic > math.sqrt(-0.5 * math.log(KS_ALPHA / 2)) / math.sqrt(n):
                return name
    return None


def _replay(build, start: dict, batches: list[np.ndarray], inputs, labels: torch.Tensor, lr: float,
            momentum: float, weight_decay: float = 0.0, loss_extra=None):
    """The statement's SGD steps from checkpoint ``start`` on ``batches`` (index arrays): (params, buffers)."""
    model = build()
    params = list(model.parameters())
    with torch.no_grad():
        for p, value in zip(params, start["params"]):
            p.copy_(value)
    optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    for p, buffer in zip(params, start["buffers"]):
        if buffer is not None:
            optimizer.state[p]["momentum_buffer"] = buffer.clone()
    model.train()
    for index in batches:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(inputs(index)), labels[torch.from_numpy(index)])
        if loss_extra is not None:
            loss = loss + loss_extra(model)
        loss.backward()
        optimizer.step()
    buffers = [optimizer.state[p].get("momentum_buffer") for p in params]
    return [p.detach() for p in params], buffers


def pixel_inputs(images: np.ndarray, mean, std, normalization=None):
    """``inputs(index)`` for :func:`verify`: the uint8 ``images[index]`` (B, H, W, C) as float32 (B, C, H, W),
    computed as the statement's normalization is usually written (x / 255, then (x - mean) / std, in float32),
    so that a replay of an honest run is bit-exact. With ``normalization`` (the record's per-channel
    [scale, shift] pairs, level = input * scale + shift, fitted to about 1e-9), the student's own constants are
    used instead, mean = shift / 255 and std = scale / 255 (the same float32 numbers), or the raw levels."""
    from autograder.graders.cifar_oracles import reference_tensors

    raw = False
    if normalization is not None:
        mean = tuple(b / 255 for _, b in normalization)
        std = tuple(a / 255 for a, _ in normalization)
        raw = all(abs(b) < 1e-6 for _, b in normalization) and all(abs(a - 1) < 1e-6 for a, _ in normalization)

    def inputs(index: np.ndarray) -> torch.Tensor:
        if raw:
            return torch.from_numpy(np.ascontiguousarray(images[index])).permute(0, 3, 1, 2).float().contiguous()
        return reference_tensors(images[index], np.zeros(len(index), dtype=np.int64), mean, std)[0]

    return inputs


def _normalization_of(record):
    """The record's per-channel [scale, shift] pairs (None: the statement's); False if malformed."""
    value = record.get("normalization")
    if value is None:
        return None
    ok = isinstance(value, list) and len(value) == 3 and all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, float) and math.isfinite(v) for v in pair)
        and pair[0] > 0 for pair in value)
    return value if ok else False


def unreadable(call: str) -> Proof:
    return _refuse("{c} could not be recorded.", "no se pudo registrar {c}.", c=call)


def check_schedule(record: dict, *, n_train: int, epochs: int, batch_size: int, call: str,
                   unrecognized: T | None = None):
    """(refusal or None, the batches as index arrays): the record's optimizer steps are ``epochs`` passes over
    the ``n_train`` training images, each a permutation of them in batches of ``batch_size``, one step per batch,
    every batch recognized as training images (``unrecognized`` overrides what is said if one was not)."""
    sizes, indices = record.get("sizes"), record.get("indices")
    steps_per_epoch = math.ceil(n_train / batch_size)
    expected_steps = epochs * steps_per_epoch
    if not (isinstance(sizes, torch.Tensor) and isinstance(indices, torch.Tensor) and sizes.dim() == 1):
        return unreadable(call), []
    sizes = sizes.to(torch.int64).numpy()
    if len(sizes) != expected_steps:
        return _refuse("{c} made {n} optimizer steps; {e} epochs over {N} images in batches of {b} are {m} steps "
                       "(one optimizer.step() per batch).",
                       "{c} hizo {n} pasos del optimizador; {e} épocas sobre {N} imágenes en batches de {b} son {m} "
                       "pasos (un optimizer.step() por batch).",
                       c=call, n=len(sizes), e=epochs, N=n_train, b=batch_size, m=expected_steps), []
    if (sizes < 0).any():
        step = int(np.argmax(sizes < 0)) + 1
        return (Proof(False, unrecognized.format(c=call, s=step)) if unrecognized is not None else _refuse(
            "a batch of {c} that the optimizer stepped on was not made of the training images it was "
            "given, normalized as the statement says (step {s}).",
            "un batch de {c} con el que el optimizador dio un paso no estaba formado por las imágenes de "
            "entrenamiento recibidas, normalizadas como dice el enunciado (paso {s}).", c=call, s=step)), []
    indices = indices.to(torch.int64).numpy()
    if int(sizes.sum()) != len(indices):
        return unreadable(call), []
    last = n_train - (steps_per_epoch - 1) * batch_size
    if not np.array_equal(sizes, np.array(([batch_size] * (steps_per_epoch - 1) + [last]) * epochs)):
        return _refuse("the batches of {c} do not have {b} images each (the last of an epoch {l}).",
                       "los batches de {c} no tienen {b} imágenes cada uno (el último de cada época, {l}).",
                       c=call, b=batch_size, l=last), []
    for epoch, seen in enumerate(indices.reshape(epochs, n_train)):
        if not np.array_equal(np.sort(seen), np.arange(n_train)):
            return _refuse("epoch {e} of {c} did not use every training image exactly once.",
                           "la época {e} de {c} no usó cada imagen de entrenamiento exactamente una vez.",
                           c=call, e=epoch + 1), []
    return None, np.split(indices, np.cumsum(sizes)[:-1])


def sgd_group_problem(group, lr: float, momentum: float) -> bool:
    """True unless ``group`` (a recorded param group) is the statement's SGD: lr, momentum, nothing else."""
    return not (isinstance(group, dict) and group.get("lr") == lr and group.get("momentum") == momentum
                and not group.get("weight_decay") and not group.get("dampening") and group.get("nesterov") is False)


SGD_REFUSAL = T("the optimizer of {c} is not the statement's: expected SGD with lr={lr}, momentum={m} (no weight "
                "decay, dampening or Nesterov); it has {g}.",
                "el optimizador de {c} no es el del enunciado: se esperaba SGD con lr={lr}, momentum={m} (sin weight "
                "decay, dampening ni Nesterov); tiene {g}.")


def check_checkpoints(record: dict, *, template: list[torch.Tensor], expected_steps: int, call: str,
                      group_problem, group_refusal: T, buffers: bool = True) -> Proof | None:
    """The record's checkpoints start at step 0 and end after the last step, each holds exactly the statement's
    parameters (shapes and dtypes of ``template``) and, with ``buffers``, momentum buffers of the same shapes;
    ``group_problem(group)`` is True for a param group that is not the statement's optimizer (then
    ``group_refusal`` formatted with ``c`` and ``g`` is said); one optimizer only."""
    checkpoints = record.get("checkpoints")
    if not isinstance(checkpoints, list) or len(checkpoints) < 2 or not all(isinstance(c, dict) for c in checkpoints):
        return unreadable(call)
    steps = [c.get("step") for c in checkpoints]
    if steps[0] != 0 or steps[-1] != expected_steps or any(not isinstance(s, int) for s in steps) \
            or steps != sorted(set(steps)):
        return unreadable(call)
    for checkpoint in checkpoints:
        ok = _is_tensor_list(checkpoint.get("params"), len(template)) and all(
            a.shape == b.shape and a.dtype == b.dtype for a, b in zip(checkpoint["params"], template))
        if buffers:
            kept = checkpoint.get("buffers")
            ok = ok and isinstance(kept, list) and len(kept) == len(template) and all(
                b is None or (isinstance(b, torch.Tensor) and b.shape == p.shape) for b, p in zip(kept, template))
        if not ok:
            return _refuse("the optimizer of {c} does not hold exactly the parameters of the statement's network.",
                           "el optimizador de {c} no contiene exactamente los parámetros de la red del enunciado.",
                           c=call)
        for group in checkpoint.get("groups") or [None]:
            if group_problem(group):
                return Proof(False, group_refusal.format(c=call, g=group))
    if record.get("other_optimizers"):
        return _refuse("{c} stepped more than one optimizer.", "{c} usó más de un optimizador.", c=call)
    return None


def check_ends(checkpoints: list[dict], *, final_params: list[torch.Tensor], call: str,
               init_problem: str | None) -> Proof | None:
    """The first checkpoint is a fresh initialization (``init_problem``: None, or the tensor that is not) and the
    last one is, bit for bit, the graded model (``final_params``)."""
    if init_problem is not None:
        return _refuse("training in {c} did not start from a fresh initialization of the network ('{p}' is not "
                       "uniform within PyTorch's default bound): weights brought from elsewhere earn no points.",
                       "el entrenamiento de {c} no empezó desde una inicialización nueva de la red ('{p}' no es "
                       "uniforme dentro de la cota por defecto de PyTorch): unos pesos traídos de fuera no puntúan.",
                       c=call, p=init_problem)
    last = checkpoints[-1]["params"]
    if not (len(final_params) == len(last) and all(
            a.shape == b.shape and torch.equal(a, b) for a, b in zip(final_params, last))):
        return _refuse("the returned model is not the one {c} trained: its weights differ from the optimizer's "
                       "after the last step.",
                       "el modelo devuelto no es el que entrenó {c}: sus pesos difieren de los del optimizador "
                       "tras el último paso.", c=call)
    return None


def choose_segments(checkpoints: list[dict], random_segments: int, largest_segments: int) -> list[int]:
    """Which stretches (checkpoint i to i + 1) to replay, decided now, after the record is in hand: the first and
    the last, the ``largest_segments`` that moved the parameters most, and ``random_segments`` drawn with
    ``secrets`` among the others."""
    count = len(checkpoints) - 1
    moves = [float((_flat(b["params"]) - _flat(a["params"])).norm()) for a, b in zip(checkpoints, checkpoints[1:])]
    chosen = {0, count - 1} | set(sorted(range(count), key=lambda i: -moves[i])[:largest_segments])
    rest = [i for i in range(count) if i not in chosen]
    chosen |= set(secrets.SystemRandom().sample(rest, min(random_segments, len(rest))))
    return sorted(chosen)


def replay_refusal(start: dict, end: dict, call: str, rule: T) -> T:
    """What is said when the stretch from ``start`` to ``end`` is not a replay of ``rule`` (the update's name)."""
    return T("replaying steps {a}-{b} of {c} with the statement's update rule on the given images does not give the "
             "weights it reached: they were not trained on the data given (or not with ",
             "al repetir los pasos {a}-{b} de {c} con la regla de actualización del enunciado sobre las imágenes "
             "recibidas no se obtienen los pesos que alcanzó: no se entrenaron con los datos dados (o no con ").format(
        a=start["step"] + 1, b=end["step"], c=call) + rule + T(").", ").")


def single_threaded_map(function, items: list) -> list:
    """``[function(item) for item in items]``, two at a time on threads of their own where two cores are free.
    Each call runs its torch operations on one intra-op thread, as the student process trains, so every result
    is bit for bit what a sequential single-threaded call gives (more intra-op threads change the rounding, and
    a replay's tolerance is not meant to absorb that)."""
    def one(item):
        torch.set_num_threads(1)
        return function(item)

    threads = torch.get_num_threads()
    workers = max(1, min(2, len(os.sched_getaffinity(0)), len(items)))
    try:
        if workers == 1:
            return [one(item) for item in items]
        with ThreadPoolExecutor(workers, thread_name_prefix="replay") as pool:
            return list(pool.map(one, items))
    finally:
        torch.set_num_threads(threads)


def sgd_discrepancy(params: list[torch.Tensor], buffers: list, start: dict, end: dict,
                    tolerance: float) -> tuple[float, bool]:
    """(gap, wrong): how far replayed SGD ``params`` and momentum ``buffers`` are from checkpoint ``end``, the
    parameter gap as a fraction of the stretch's own update from ``start``; ``wrong`` if beyond ``tolerance``."""
    claimed, began = _flat(end["params"]), _flat(start["params"])
    gap = float((_flat(params) - claimed).norm())
    scale = float((claimed - began).norm())
    buffer_gap = max((float((a.double() - b.double()).norm()) / (float(b.double().norm()) + 1e-12)
                      for a, b in zip(buffers, end["buffers"]) if a is not None and b is not None), default=0.0)
    missing = any((a is None) != (b is None) for a, b in zip(buffers, end["buffers"]))
    return gap / (scale + 1e-12), gap > tolerance * scale + 1e-6 or buffer_gap > tolerance or missing


def verify(record, *, build, inputs=None, labels, n_train: int, final_params: list[torch.Tensor], epochs: int,
           batch_size: int, lr: float, momentum: float, random_segments: int = 6, largest_segments: int = 2,
           tolerance: float = 1e-3, call: str = "fit", images: np.ndarray | None = None, mean=None,
           std=None) -> Proof:
    """Check ``record`` (what :func:`autograder.sandbox.helpers.training.finish` returned) against the budget.

    ``build()`` makes the statement's network here (its ``parameters()`` in the optimizer's order); ``inputs(index)``
    gives the training inputs (B, C, H, W) for an index array, or, for images, ``images`` (uint8, N, H, W, C) with
    the statement's ``mean`` and ``std`` (then batches normalized with another per-channel map, as the record says,
    are replayed as they were); ``labels`` (N,) are the grader's labels; ``final_params`` are the graded model's
    parameters as fetched from the student process."""
    if not isinstance(record, dict):
        return unreadable(call)
    if images is not None:
        normalization = _normalization_of(record)
        if normalization is False:
            return unreadable(call)
        inputs = pixel_inputs(images, mean, std, normalization)
    refusal, batches = check_schedule(record, n_train=n_train, epochs=epochs, batch_size=batch_size, call=call)
    if refusal is not None:
        return refusal
    template = list(build().parameters())
    refusal = check_checkpoints(record, template=template, expected_steps=len(batches), call=call,
                                group_problem=lambda g: sgd_group_problem(g, lr, momentum),
                                group_refusal=SGD_REFUSAL.format(c="{c}", lr=lr, m=momentum, g="{g}"))
    if refusal is not None:
        return refusal
    checkpoints = record["checkpoints"]
    refusal = check_ends(checkpoints, final_params=final_params, call=call,
                         init_problem=default_init_problem(checkpoints[0]["params"], build()))
    if refusal is not None:
        return refusal
    proof = Proof(True, replayed=choose_segments(checkpoints, random_segments, largest_segments),
                  segments=len(checkpoints) - 1)
    rule = T("SGD, lr={lr}, momentum={m}, cross-entropy loss, one zeroed gradient per batch",
             "SGD, lr={lr}, momentum={m}, entropía cruzada y el gradiente puesto a cero en cada batch").format(
        lr=lr, m=momentum)

    def replay_one(i: int):
        start, end = checkpoints[i], checkpoints[i + 1]
        return _replay(build, start, batches[start["step"]:end["step"]], inputs, labels, lr, momentum)

    for i, (params, buffers) in zip(proof.replayed, single_threaded_map(replay_one, proof.replayed)):
        start, end = checkpoints[i], checkpoints[i + 1]
        worst, wrong = sgd_discrepancy(params, buffers, start, end, tolerance)
        proof.worst = max(proof.worst, worst)
        if wrong:
            return Proof(False, replay_refusal(start, end, call, rule), replayed=proof.replayed,
                         worst=proof.worst, segments=proof.segments)
    return proof
