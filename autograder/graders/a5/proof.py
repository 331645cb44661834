"""Evidence that each of fit's runs is the statement's training, plain or regularized. Never shipped.

The student process records a run (:class:`autograder.sandbox.helpers.a5.AugmentedRecording`): for every
optimizer step which training images its batch held, each one's flip and crop corner, which inputs of each
``nn.Linear`` were zero (dropout's masks, where the activation was not already zero), and every few steps the
parameters and momentum buffers. None of it is believed. :func:`verify` checks, on the trusted side:

1. the record has the budget's shape (as :mod:`autograder.graders.training_proof` checks A4's): ``epochs``
   passes, each a permutation of the training images in batches of ``batch_size``, one step per batch, SGD with
   the statement's lr and momentum 0.9 and no weight decay of its own, a fresh default initialization at the
   start and, bit for bit, the returned model's weights at the end;
2. augmentation: without ``augment`` no image is flipped or moved; with it, flips and the crop corners follow
   their distributions (flip rate 1/2, each of dy and dx uniform over 0..2*padding), each within a Hoeffding
   bound a correct run misses with probability at most 1e-7;
3. stretches of the run, chosen after the record is in hand (the first, the last, those that moved the weights
   most, and others drawn with ``secrets``), replayed here with the statement's update rule: the grader's own
   LeNet, its own normalized copy of the images, flipped and cropped as recorded, the recorded masks applied as
   inverted dropout with the budget's p, cross-entropy plus ``l2 * sum w^2`` over the Conv/Linear weights, give
   the next checkpoint. Over the replayed steps, the fraction of the nonzero activations that the masks drop
   must be p within a Hoeffding bound missed with probability at most 1e-7.

So a "regularized" run that is a plain one, a run trained to answer wrongly on its own training images, or a
run stopped early to look regularized, cannot pass: each is a stretch that is not such a replay. What stays
free is what the statement leaves free (the initialization's seed, the batch order) and which units the masks
drop (at the right rate); see the README of the A5 grader notes for what an attacker could still do.
"""
from __future__ import annotations

import math
import secrets

import numpy as np
import torch
import torch.nn as nn

from autograder.graders import trusted_models
from autograder.graders.training_proof import Proof, _flat, _is_tensor_list, _refuse, default_init_problem

FALSE_REJECTION = 1e-7  # of each statistical check of a correct run (Hoeffding)


def hoeffding(n: int) -> float:
    """The deviation of a mean of ``n`` independent values in [0, 1] exceeded with probability FALSE_REJECTION."""
    return math.sqrt(math.log(2 / FALSE_REJECTION) / (2 * max(n, 1)))


class MaskedLeNet(nn.Module):
    """The deck's LeNet (parameters in :func:`trusted_models.deck_lenet` order) whose dropout before each Linear
    layer applies the masks it is given: ``x * keep / (1 - p)``."""

    def __init__(self, p: float):
        super().__init__()
        self.net, self.p, self.keeps = trusted_models.deck_lenet(0.0), p, None
        self.inputs: list[torch.Tensor] = []  # each Linear's activation before dropout, last forward

    def forward(self, x):
        self.inputs, linear = [], 0
        for layer in self.net:
            if isinstance(layer, nn.Linear) and self.p > 0:
                self.inputs.append(x.detach())
                x = x * self.keeps[linear] / (1 - self.p)
                linear += 1
            x = layer(x)
        return x


def weights_of(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def augmented(x: torch.Tensor, flips: torch.Tensor, corners: torch.Tensor, padding: int) -> torch.Tensor:
    """Batch ``x`` (B, C, H, W), image i mirrored where ``flips[i]``, zero-padded, cut at ``corners[i]`` = (dy, dx)."""
    _, _, h, w = x.shape
    x = torch.where(flips.bool().view(-1, 1, 1, 1), x.flip(-1), x)
    padded = nn.functional.pad(x, (padding,) * 4)
    return torch.stack([padded[i, :, dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(corners.tolist())])


def unpack(zeros: torch.Tensor, rows: int, width: int) -> torch.Tensor:
    """Bit-packed (rows, ceil(width / 8)) uint8 -> bool (rows, width)."""
    return torch.from_numpy(np.unpackbits(zeros.numpy(), axis=1, count=width).astype(bool)).reshape(rows, width)


def verify(record, *, images: np.ndarray, labels: np.ndarray, final_params: list[torch.Tensor], epochs: int,
           batch_size: int, lr: float, momentum: float, l2: float, dropout: float, augment: bool, padding: int = 4,
           random_segments: int = 6, largest_segments: int = 2, tolerance: float = 1e-3,
           call: str = "fit") -> Proof:
    """Check ``record`` (what ``helpers/a5.finish_recording`` returned) of a ``fit`` on the uint8 training
    ``images`` (N, 32, 32, 3) and ``labels`` under the budget; ``final_params`` are the graded model's parameters
    as fetched from the student process (in ``deck_lenet`` order)."""
    from autograder.graders.cifar_oracles import reference_tensors

    unreadable = _refuse("{c} could not be recorded.", "no se pudo registrar {c}.", c=call)
    if not isinstance(record, dict):
        return unreadable
    sizes, indices, checkpoints, steps = (record.get(k) for k in ("sizes", "indices", "checkpoints", "steps_seen"))
    n_train = len(labels)
    steps_per_epoch = math.ceil(n_train / batch_size)
    expected_steps = epochs * steps_per_epoch
    if not (isinstance(sizes, torch.Tensor) and isinstance(indices, torch.Tensor) and isinstance(checkpoints, list)
            and isinstance(steps, list)):
        return unreadable
    sizes = sizes.to(torch.int64).numpy()
    if len(sizes) != expected_steps:
        return _refuse("{c} made {n} optimizer steps; {e} epochs over {N} images in batches of {b} are {m} steps "
                       "(one optimizer.step() per batch).",
                       "{c} hizo {n} pasos del optimizador; {e} épocas sobre {N} imágenes en batches de {b} son {m} "
                       "pasos (un optimizer.step() por batch).",
                       c=call, n=len(sizes), e=epochs, N=n_train, b=batch_size, m=expected_steps)
    if (sizes < 0).any():
        return _refuse("a batch of {c} that the optimizer stepped on was not made of the training images it was "
                       "given, normalized as the statement says{a} (step {s}).",
                       "un batch de {c} con el que el optimizador dio un paso no estaba formado por las imágenes de "
                       "entrenamiento recibidas, normalizadas como dice el enunciado{a} (paso {s}).",
                       c=call, s=int(np.argmax(sizes < 0)) + 1,
                       a=", then flipped and cropped with zero padding" if augment else "")
    indices = indices.to(torch.int64).numpy()
    last = n_train - (steps_per_epoch - 1) * batch_size
    want_sizes = np.array(([batch_size] * (steps_per_epoch - 1) + [last]) * epochs)
    if int(sizes.sum()) != len(indices) or len(steps) != len(sizes):
        return unreadable
    if not np.array_equal(sizes, want_sizes):
        return _refuse("the batches of {c} do not have {b} images each (the last of an epoch {l}).",
                       "los batches de {c} no tienen {b} imágenes cada uno (el último de cada época, {l}).",
                       c=call, b=batch_size, l=last)
    for epoch, seen in enumerate(indices.reshape(epochs, n_train)):
        if not np.array_equal(np.sort(seen), np.arange(n_train)):
            return _refuse("epoch {e} of {c} did not use every training image exactly once.",
                           "la época {e} de {c} no usó cada imagen de entrenamiento exactamente una vez.",
                           c=call, e=epoch + 1)
    batches = np.split(indices, np.cumsum(sizes)[:-1])
    for step, size in zip(steps, sizes):
        if not (isinstance(step, dict) and isinstance(step.get("flips"), torch.Tensor)
                and isinstance(step.get("corners"), torch.Tensor) and isinstance(step.get("zeros"), list)
                and step["flips"].shape == (size,) and step["corners"].shape == (size, 2)
                and all(isinstance(z, torch.Tensor) and z.dtype == torch.uint8 for z in step["zeros"])):
            return unreadable
    flips = torch.cat([s["flips"] for s in steps]).to(torch.int64).numpy()
    corners = torch.cat([s["corners"] for s in steps]).to(torch.int64).numpy()
    if not augment:
        if flips.any() or (corners != padding).any():
            return _refuse("{c} was called without augmentation, but some of its training batches were flipped or "
                           "cropped.", "{c} se llamó sin aumento de datos, pero algunos de sus batches de "
                           "entrenamiento estaban volteados o recortados.", c=call)
    else:
        bound = hoeffding(len(flips))
        rates = [("flips", abs(flips.mean() - 0.5))] + [
            (f"{axis} = {v}", abs((corners[:, k] == v).mean() - 1 / (2 * padding + 1)))
            for k, axis in enumerate(("dy", "dx")) for v in range(2 * padding + 1)]
        strange = [name for name, deviation in rates if deviation > bound]
        if strange:
            return _refuse("the augmentation of {c} is not random flips (probability 1/2) and random crops (corner "
                           "uniform over 0..{m}): over its {n} training images the rate of {w} is off by more than "
                           "{b:.3f} from the expected one.",
                           "el aumento de datos de {c} no son volteos aleatorios (probabilidad 1/2) y recortes "
                           "aleatorios (esquina uniforme en 0..{m}): en sus {n} imágenes de entrenamiento la "
                           "frecuencia de {w} se aparta más de {b:.3f} de la esperada.",
                           c=call, m=2 * padding, n=len(flips), w=strange[0], b=bound)
    every_steps = [c.get("step") if isinstance(c, dict) else None for c in checkpoints]
    if len(checkpoints) < 2 or every_steps[0] != 0 or every_steps[-1] != expected_steps or any(
            not isinstance(s, int) for s in every_steps) or every_steps != sorted(set(every_steps)):
        return unreadable
    template = list(trusted_models.deck_lenet().parameters())
    for checkpoint in checkpoints:
        buffers = checkpoint.get("buffers")
        ok = _is_tensor_list(checkpoint.get("params"), len(template)) and all(
            a.shape == b.shape and a.dtype == b.dtype for a, b in zip(checkpoint["params"], template))
        ok = ok and isinstance(buffers, list) and len(buffers) == len(template) and all(
            b is None or (isinstance(b, torch.Tensor) and b.shape == p.shape) for b, p in zip(buffers, template))
        if not ok:
            return _refuse("the optimizer of {c} does not hold exactly the parameters of the statement's network.",
                           "el optimizador de {c} no contiene exactamente los parámetros de la red del enunciado.",
                           c=call)
        for group in checkpoint.get("groups") or [None]:
            if not (isinstance(group, dict) and group.get("lr") == lr and group.get("momentum") == momentum
                    and not group.get("weight_decay") and not group.get("dampening") and group.get("nesterov") is False):
                return _refuse("the optimizer of {c} is not the statement's: expected SGD with lr={lr}, momentum={m} "
                               "and the L2 penalty in the loss (no weight decay of its own, dampening or Nesterov); "
                               "it has {g}.",
                               "el optimizador de {c} no es el del enunciado: se esperaba SGD con lr={lr}, "
                               "momentum={m} y la penalización L2 en la pérdida (sin weight decay propio, dampening "
                               "ni Nesterov); tiene {g}.", c=call, lr=lr, m=momentum, g=group)
    if record.get("other_optimizers"):
        return _refuse("{c} stepped more than one optimizer.", "{c} usó más de un optimizador.", c=call)
    problem = default_init_problem(checkpoints[0]["params"], trusted_models.deck_lenet())
    if problem is not None:
        return _refuse("training in {c} did not start from a fresh initialization of the network ('{p}' is not "
                       "uniform within PyTorch's default bound): weights brought from elsewhere earn no points.",
                       "el entrenamiento de {c} no empezó desde una inicialización nueva de la red ('{p}' no es "
                       "uniforme dentro de la cota por defecto de PyTorch): unos pesos traídos de fuera no puntúan.",
                       c=call, p=problem)
    if not (len(final_params) == len(template) and all(
            a.shape == b.shape and torch.equal(a, b) for a, b in zip(final_params, checkpoints[-1]["params"]))):
        return _refuse("the returned model is not the one {c} trained: its weights differ from the optimizer's "
                       "after the last step.",
                       "el modelo devuelto no es el que entrenó {c}: sus pesos difieren de los del optimizador "
                       "tras el último paso.", c=call)

    count = len(checkpoints) - 1
    moves = [float((_flat(b["params"]) - _flat(a["params"])).norm()) for a, b in zip(checkpoints, checkpoints[1:])]
    chosen = {0, count - 1} | set(sorted(range(count), key=lambda i: -moves[i])[:largest_segments])
    rest = [i for i in range(count) if i not in chosen]
    chosen |= set(secrets.SystemRandom().sample(rest, min(random_segments, len(rest))))
    proof = Proof(True, replayed=sorted(chosen), segments=count)
    x_all, y_all = reference_tensors(images, labels)
    model = MaskedLeNet(dropout)
    params = list(model.parameters())
    widths = [m.in_features for m in model.net if isinstance(m, nn.Linear)]
    dropped = kept = 0
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the student process trains; the result does not depend on it beyond rounding
    try:
        for i in proof.replayed:
            start, end = checkpoints[i], checkpoints[i + 1]
            with torch.no_grad():
                for p, value in zip(params, start["params"]):
                    p.copy_(value)
            optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum)
            for p, buffer in zip(params, start["buffers"]):
                if buffer is not None:
                    optimizer.state[p]["momentum_buffer"] = buffer.clone()
            model.train()
            for step in range(start["step"], end["step"]):
                index, seen = batches[step], steps[step]
                xb = x_all[torch.from_numpy(index)]
                if augment:
                    xb = augmented(xb, seen["flips"], seen["corners"], padding)
                if dropout > 0:
                    if len(seen["zeros"]) != len(widths) or any(
                            tuple(z.shape) != (len(index), math.ceil(w / 8)) for z, w in zip(seen["zeros"], widths)):
                        return _refuse("the dropout of {c} could not be read at step {s}: the network's three fully "
                                       "connected layers were not each run once on the batch.",
                                       "no se pudo leer el dropout de {c} en el paso {s}: las tres capas totalmente "
                                       "conectadas de la red no se ejecutaron una vez cada una sobre el batch.",
                                       c=call, s=step + 1)
                    zeros = [unpack(z, len(index), w) for z, w in zip(seen["zeros"], widths)]
                    model.keeps = [(~z).float() for z in zeros]
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(model(xb), y_all[torch.from_numpy(index)])
                if l2:
                    loss = loss + l2 * sum((w ** 2).sum() for w in weights_of(model))
                loss.backward()
                optimizer.step()
                if dropout > 0:
                    for z, a in zip(zeros, model.inputs):
                        active = a != 0
                        dropped += int((z & active).sum())
                        kept += int((~z & active).sum())
            buffers = [optimizer.state[p].get("momentum_buffer") for p in params]
            claimed, began = _flat(end["params"]), _flat(start["params"])
            gap = float((_flat([p.detach() for p in params]) - claimed).norm())
            scale = float((claimed - began).norm())
            buffer_gap = max((float((a.double() - b.double()).norm()) / (float(b.double().norm()) + 1e-12)
                              for a, b in zip(buffers, end["buffers"]) if a is not None and b is not None), default=0.0)
            missing = any((a is None) != (b is None) for a, b in zip(buffers, end["buffers"]))
            proof.worst = max(proof.worst, gap / (scale + 1e-12))
            if gap > tolerance * scale + 1e-6 or buffer_gap > tolerance or missing:
                return Proof(False, T_replay(start["step"] + 1, end["step"], call, lr, momentum, l2, dropout, augment),
                             replayed=proof.replayed, worst=proof.worst, segments=count)
    finally:
        torch.set_num_threads(threads)
    if dropout > 0:
        rate = dropped / max(dropped + kept, 1)
        if abs(rate - dropout) > hoeffding(dropped + kept):
            return _refuse("the dropout of {c} zeroed {r:.3f} of the activations it met in the replayed steps; with "
                           "p = {p} a fraction within {b:.4f} of {p} was expected.",
                           "el dropout de {c} puso a cero {r:.3f} de las activaciones en los pasos repetidos; con "
                           "p = {p} se esperaba una fracción a menos de {b:.4f} de {p}.",
                           c=call, r=rate, p=dropout, b=hoeffding(dropped + kept))
    return proof


def T_replay(first: int, last: int, call: str, lr: float, momentum: float, l2: float, dropout: float, augment: bool):
    """The bilingual failure of a replay that does not reach the recorded weights."""
    from autograder.feedback import T

    en = (f"SGD (lr={lr}, momentum={momentum}), cross-entropy" + (f" + {l2} * sum w^2 over the weights" if l2 else "")
          + (f", inverted dropout p={dropout} before each Linear" if dropout else "")
          + (", flips and crops of the training batches" if augment else "") + ", one zeroed gradient per batch")
    es = (f"SGD (lr={lr}, momentum={momentum}), entropía cruzada" + (f" + {l2} * suma de w^2 sobre los pesos" if l2 else "")
          + (f", dropout invertido p={dropout} antes de cada Linear" if dropout else "")
          + (", volteos y recortes de los batches de entrenamiento" if augment else "")
          + ", el gradiente puesto a cero en cada batch")
    return T("replaying steps {a}-{b} of {c} with the statement's update rule ({r}) on the given images does not give "
             "the weights it reached (expected the same weights): they were not trained that way on the data given.",
             "al repetir los pasos {a}-{b} de {c} con la regla de actualización del enunciado ({s}) sobre las "
             "imágenes recibidas no se obtienen los pesos que alcanzó (se esperaban los mismos): no se entrenaron así con "
             "los datos dados.") \
        .format(a=first, b=last, c=call, r=en, s=es)
