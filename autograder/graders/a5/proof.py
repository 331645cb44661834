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

import numpy as np
import torch
import torch.nn as nn

from autograder.feedback import T
from autograder.graders import training_proof, trusted_models
from autograder.graders.training_proof import Proof, _refuse, default_init_problem

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

    if not isinstance(record, dict) or not isinstance(record.get("steps_seen"), list):
        return training_proof.unreadable(call)
    n_train = len(labels)
    refusal, batches = training_proof.check_schedule(
        record, n_train=n_train, epochs=epochs, batch_size=batch_size, call=call,
        unrecognized=T("a batch of {c} that the optimizer stepped on was not made of the training images it was "
                       "given, normalized as the statement says" + (", then flipped and cropped with zero padding"
                                                                    if augment else "") + " (step {s}).",
                       "un batch de {c} con el que el optimizador dio un paso no estaba formado por las imágenes de "
                       "entrenamiento recibidas, normalizadas como dice el enunciado" + (
                           ", luego volteadas y recortadas con relleno de ceros" if augment else "") + " (paso {s})."))
    if refusal is not None:
        return refusal
    steps, sizes = record["steps_seen"], [len(b) for b in batches]
    if len(steps) != len(sizes):
        return training_proof.unreadable(call)
    for step, size in zip(steps, sizes):
        if not (isinstance(step, dict) and isinstance(step.get("flips"), torch.Tensor)
                and isinstance(step.get("corners"), torch.Tensor) and isinstance(step.get("zeros"), list)
                and step["flips"].shape == (size,) and step["corners"].shape == (size, 2)
                and all(isinstance(z, torch.Tensor) and z.dtype == torch.uint8 for z in step["zeros"])):
            return training_proof.unreadable(call)
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
    refusal = training_proof.check_checkpoints(
        record, template=list(trusted_models.deck_lenet().parameters()), expected_steps=len(batches), call=call,
        group_problem=lambda g: training_proof.sgd_group_problem(g, lr, momentum),
        group_refusal=T("the optimizer of {c} is not the statement's: expected SGD with lr={lr}, momentum={m} "
                        "and the L2 penalty in the loss (no weight decay of its own, dampening or Nesterov); "
                        "it has {g}.",
                        "el optimizador de {c} no es el del enunciado: se esperaba SGD con lr={lr}, "
                        "momentum={m} y la penalización L2 en la pérdida (sin weight decay propio, dampening "
                        "ni Nesterov); tiene {g}.").format(c="{c}", lr=lr, m=momentum, g="{g}"))
    if refusal is not None:
        return refusal
    checkpoints = record["checkpoints"]
    refusal = training_proof.check_ends(
        checkpoints, final_params=final_params, call=call,
        init_problem=default_init_problem(checkpoints[0]["params"], trusted_models.deck_lenet()))
    if refusal is not None:
        return refusal
    count = len(checkpoints) - 1
    proof = Proof(True, replayed=training_proof.choose_segments(checkpoints, random_segments, largest_segments),
                  segments=count)
    x_all, y_all = reference_tensors(images, labels)
    widths = [m.in_features for m in trusted_models.deck_lenet(0.0) if isinstance(m, nn.Linear)]

    def replay_one(i: int):
        """(params, buffers, dropped, kept) after replaying stretch ``i``, or a refusal."""
        start, end = checkpoints[i], checkpoints[i + 1]
        model = MaskedLeNet(dropout)
        params = list(model.parameters())
        with torch.no_grad():
            for p, value in zip(params, start["params"]):
                p.copy_(value)
        optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum)
        for p, buffer in zip(params, start["buffers"]):
            if buffer is not None:
                optimizer.state[p]["momentum_buffer"] = buffer.clone()
        model.train()
        dropped = kept = 0
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
        return [p.detach() for p in params], [optimizer.state[p].get("momentum_buffer") for p in params], \
            dropped, kept

    dropped = kept = 0
    for i, result in zip(proof.replayed, training_proof.single_threaded_map(replay_one, proof.replayed)):
        if isinstance(result, Proof):
            return result
        params, buffers, segment_dropped, segment_kept = result
        dropped, kept = dropped + segment_dropped, kept + segment_kept
        worst, wrong = training_proof.sgd_discrepancy(params, buffers, checkpoints[i], checkpoints[i + 1], tolerance)
        proof.worst = max(proof.worst, worst)
        if wrong:
            return Proof(False, T_replay(checkpoints[i]["step"] + 1, checkpoints[i + 1]["step"], call, lr, momentum,
                                         l2, dropout, augment), replayed=proof.replayed, worst=proof.worst,
                         segments=count)
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
