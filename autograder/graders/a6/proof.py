"""Evidence that fit_frozen's head was trained, here, on the features of the images the grader gave. Never shipped.

The returned backbone is checked bit for bit against the grader's pristine copy, but a head is only 12,810 numbers:
one trained offline (on features of the public test set, say) could be returned, or used as the starting point of an
otherwise correct run. The student process therefore records the run
(:class:`autograder.sandbox.helpers.a6.FeatureRecording`): for every optimizer step which training images' features
its batch held, and every few steps the head's weight and bias with their Adam state. None of it is believed.
:func:`verify` checks, on the trusted side:

1. the record has the budget's shape: ``epochs`` passes, each a permutation of the training images in batches of
   ``batch_size``, one optimizer step per batch, Adam with the budget's lr, default betas and eps, no weight decay,
   no AMSGrad, over the head;
2. its first checkpoint is a fresh initialization among those the statement leaves open: PyTorch's default
   (uniform), Xavier/Glorot or Kaiming, uniform or normal, or zeros (the weight uniform or normal around zero by a
   Kolmogorov-Smirnov test with the scale estimated from it, or all zero; the bias within PyTorch's default bound),
   and it knows nothing about the classes: its weight rows are not aligned with the classes' mean features (of the
   replayed images, computed here), as a trained head's are;
3. its last checkpoint is, bit for bit, the head of the model whose accuracy is graded;
4. stretches of it, chosen with ``secrets`` after the record is in hand (the first, the last, the ones that moved
   the head most and others at random), replayed here: the features of each batch's images computed by the grader's
   own pristine backbone (the statement's preprocessing, eval mode, no autograd), ``torch.optim.Adam`` steps on the
   grader's own ``nn.Linear`` from the checkpoint's state, cross-entropy loss; the result must be the next checkpoint.

A head not trained from such an initialization on the features of the given images must contain a stretch that is
not such a replay, or start from weights the checks of 2 refuse. See the README (Security) for what remains open.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn

from autograder.feedback import T
from autograder.graders import training_proof
from autograder.graders.training_proof import KS_ALPHA, Proof, _flat, _refuse

ALIGNMENT_Z = 5.3  # refusal bound of the class-alignment statistic (standard normal for a fresh init): p ~ 6e-8
BETAS, EPS = [0.9, 0.999], 1e-8


def _ks(sorted_cdf: np.ndarray) -> float:
    n = len(sorted_cdf)
    ranks = np.arange(1, n + 1) / n
    return max(float(np.max(ranks - sorted_cdf)), float(np.max(sorted_cdf - (ranks - 1 / n))))


def init_problem(weight: torch.Tensor, bias: torch.Tensor | None) -> str | None:
    """None if (``weight``, ``bias``) of an ``nn.Linear`` look like a fresh initialization: the weight all zero, or
    i.i.d. uniform or normal around zero (scale estimated from the weight itself, at most 1), by a
    Kolmogorov-Smirnov test at KS_ALPHA; the bias within PyTorch's default bound 1/sqrt(fan_in). Else which."""
    fan_in = weight.shape[1]
    w = weight.detach().double().reshape(-1)
    if not bool(torch.isfinite(w).all()):
        return "weight"
    if bias is not None:
        b = bias.detach().double()
        if not bool(torch.isfinite(b).all()) or float(b.abs().max()) > (1 + 1e-5) / math.sqrt(fan_in):
            return "bias"
    if not bool((w != 0).any()):
        return None
    values = np.sort(w.numpy())
    n = len(values)
    critical = math.sqrt(-0.5 * math.log(KS_ALPHA / 2)) / math.sqrt(n)
    bound = float(np.abs(values).max())
    sigma = float(np.sqrt(np.mean(values ** 2)))
    uniform = _ks(np.clip((values / bound + 1) / 2, 0, 1)) if bound <= 1 else math.inf
    normal = _ks(torch.special.ndtr(torch.from_numpy(values / sigma)).numpy()) if sigma <= 1 else math.inf
    return None if min(uniform, normal) <= critical else "weight"


def alignment(weight: torch.Tensor, features: torch.Tensor, labels: torch.Tensor) -> float:
    """How much the rows of ``weight`` (C, F) point at their classes' mean features: sum over classes c of
    w_c . (mean_c - mean) / (sigma * |mean_c - mean|), over sqrt(C), with sigma the weight's RMS. For weights drawn
    i.i.d. with mean zero, independently of the data, a standard normal; a head trained to tell the classes apart
    scores far above. 0 for an all-zero weight or classes missing from ``labels``."""
    w = weight.detach().double()
    sigma = float(w.pow(2).mean().sqrt())
    f = features.double()
    if sigma == 0:
        return 0.0
    centre = f.mean(0)
    total, classes = 0.0, 0
    for c in range(w.shape[0]):
        rows = f[labels == c]
        if len(rows) == 0:
            continue
        d = rows.mean(0) - centre
        norm = float(d.norm())
        if norm > 0:
            total += float(w[c] @ d) / (sigma * norm)
            classes += 1
    return total / math.sqrt(classes) if classes else 0.0


def _group_ok(group, lr: float) -> bool:
    return (isinstance(group, dict) and group.get("lr") == lr and group.get("betas") == BETAS
            and group.get("eps") == EPS and not group.get("weight_decay") and group.get("amsgrad") is False
            and not group.get("maximize"))


def _state_ok(state, params) -> bool:
    if not (isinstance(state, list) and len(state) == len(params)):
        return False
    for s, p in zip(state, params):
        if not isinstance(s, dict):
            return False
        if not s:
            continue
        if not (isinstance(s.get("exp_avg"), torch.Tensor) and isinstance(s.get("exp_avg_sq"), torch.Tensor)
                and s["exp_avg"].shape == p.shape and s["exp_avg_sq"].shape == p.shape
                and s["exp_avg"].dtype == s["exp_avg_sq"].dtype == torch.float32
                and isinstance(s.get("step"), (torch.Tensor, float)) and set(s) == {"exp_avg", "exp_avg_sq", "step"}):
            return False
    return True


def replay(start: dict, batches: list[np.ndarray], features_of, labels: torch.Tensor, lr: float):
    """Adam steps (the budget's lr, default betas and eps) of a trusted ``nn.Linear`` from checkpoint ``start`` on
    the features of ``batches`` (index arrays), cross-entropy loss: (params, Adam state per parameter)."""
    weight = start["params"][0]
    head = nn.Linear(weight.shape[1], weight.shape[0], bias=len(start["params"]) > 1)
    params = list(head.parameters())
    with torch.no_grad():
        for p, value in zip(params, start["params"]):
            p.copy_(value)
    optimizer = torch.optim.Adam(params, lr=lr, betas=tuple(BETAS), eps=EPS)
    for p, state in zip(params, start["state"]):
        if state:
            step = state["step"]
            optimizer.state[p] = {"step": step.clone() if isinstance(step, torch.Tensor) else torch.tensor(float(step)),
                                  "exp_avg": state["exp_avg"].clone(), "exp_avg_sq": state["exp_avg_sq"].clone()}
    for index in batches:
        optimizer.zero_grad()
        nn.functional.cross_entropy(head(features_of(index)), labels[torch.from_numpy(index)]).backward()
        optimizer.step()
    return [p.detach() for p in params], [optimizer.state[p] for p in params]


def verify(record, *, features_of, labels: torch.Tensor, n_train: int, final_head: list[torch.Tensor], epochs: int,
           batch_size: int, lr: float, random_segments: int = 3, largest_segments: int = 1,
           tolerance: float = 1e-3, call: str = "fit_frozen") -> Proof:
    """Check ``record`` (what ``helpers/a6.finish_recording`` returned) of a ``fit_frozen`` on ``n_train`` images
    with the grader's ``labels`` (N,) under the budget. ``features_of(index)`` gives the grader's own features (B, F)
    of the training images ``index``; ``final_head`` is [weight, bias] of the graded model's head, fetched."""
    unreadable = training_proof.unreadable(call)
    if not isinstance(record, dict):
        return unreadable
    refusal, batches = training_proof.check_schedule(
        record, n_train=n_train, epochs=epochs, batch_size=batch_size, call=call,
        unrecognized=T("the batch the head was trained on at step {s} of {c} was not made of the features the frozen "
                       "backbone gave for the training images it was given (extracted once, in their order, as "
                       "extract_features does).",
                       "el batch con el que se entrenó la cabeza en el paso {s} de {c} no estaba formado por las "
                       "características que dio la red base congelada para las imágenes de entrenamiento recibidas "
                       "(extraídas una vez, en su orden, como hace extract_features)."))
    if refusal is not None:
        return refusal
    checkpoints = record.get("checkpoints")
    steps = [c.get("step") if isinstance(c, dict) else None for c in checkpoints] \
        if isinstance(checkpoints, list) else []
    if len(steps) < 2 or steps[0] != 0 or steps[-1] != len(batches) or any(
            not isinstance(s, int) for s in steps) or steps != sorted(set(steps)):
        return unreadable
    shapes = [tuple(t.shape) for t in final_head]
    for checkpoint in checkpoints:
        params = checkpoint.get("params")
        if not (isinstance(params, list) and [tuple(p.shape) if isinstance(p, torch.Tensor) else None
                                              for p in params] == shapes
                and all(p.dtype == torch.float32 for p in params) and checkpoint.get("held") == [True] * len(shapes)):
            return _refuse("the optimizer of {c} does not train the new head (nn.Linear(num_features, 10)) that "
                           "fit_frozen returns.",
                           "el optimizador de {c} no entrena la cabeza nueva (nn.Linear(num_features, 10)) que "
                           "devuelve fit_frozen.", c=call)
        if not _state_ok(checkpoint.get("state"), params):
            return _refuse("the optimizer of {c} is not Adam: its state per parameter is not exp_avg, exp_avg_sq and "
                           "step.", "el optimizador de {c} no es Adam: su estado por parámetro no es exp_avg, "
                           "exp_avg_sq y step.", c=call)
        for group in checkpoint.get("groups") or [None]:
            if not _group_ok(group, lr):
                return _refuse("the optimizer of {c} is not the statement's: expected Adam with lr={lr} and its "
                               "defaults (betas (0.9, 0.999), eps 1e-8, no weight decay, no AMSGrad); it has {g}.",
                               "el optimizador de {c} no es el del enunciado: se esperaba Adam con lr={lr} y sus "
                               "valores por defecto (betas (0.9, 0.999), eps 1e-8, sin weight decay ni AMSGrad); "
                               "tiene {g}.", c=call, lr=lr, g=group)
    if any(checkpoints[0]["state"]):
        return unreadable
    if record.get("other_optimizers"):
        return _refuse("{c} stepped more than one optimizer.", "{c} usó más de un optimizador.", c=call)
    first = checkpoints[0]["params"]
    problem = init_problem(first[0], first[1] if len(first) > 1 else None)
    if problem is not None:
        return _refuse("training in {c} did not start from a fresh initialization of the new head (its {p} is not "
                       "what PyTorch's default, Xavier, Kaiming or zero initialization gives): a head brought from "
                       "elsewhere earns no points.",
                       "el entrenamiento de {c} no empezó desde una inicialización nueva de la cabeza (su {p} no es lo "
                       "que da la inicialización por defecto de PyTorch, Xavier, Kaiming o ceros): una cabeza traída "
                       "de fuera no puntúa.", c=call, p=problem)
    if not (len(final_head) == len(first) and all(
            a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)
            for a, b in zip(final_head, checkpoints[-1]["params"]))):
        return _refuse("the returned head is not the one {c} trained: its weights differ from the optimizer's after "
                       "the last step.", "la cabeza devuelta no es la que entrenó {c}: sus pesos difieren de los del "
                       "optimizador tras el último paso.", c=call)
    count = len(checkpoints) - 1
    proof = Proof(True, replayed=training_proof.choose_segments(checkpoints, random_segments, largest_segments),
                  segments=count)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the student process trains; the result does not depend on it beyond rounding
    try:
        seen = [index for i in proof.replayed for index in batches[checkpoints[i]["step"]:checkpoints[i + 1]["step"]]]
        index = np.unique(np.concatenate(seen))
        features_of(index)  # every replayed image's features in one request (computed once, then looked up)
        for i in proof.replayed:
            start, end = checkpoints[i], checkpoints[i + 1]
            part = batches[start["step"]:end["step"]]
            params, states = replay(start, part, features_of, labels, lr)
            claimed, began = _flat(end["params"]), _flat(start["params"])
            gap = float((_flat(params) - claimed).norm())
            scale = float((claimed - began).norm())
            moment_gap = 0.0
            for got, want in zip(states, end["state"]):
                for key in ("exp_avg", "exp_avg_sq"):
                    a, b = got[key].double(), want[key].double()
                    moment_gap = max(moment_gap, float((a - b).norm()) / (float(b.norm()) + 1e-30))
                moment_gap = max(moment_gap, float(abs(float(got["step"]) - float(want["step"]))))
            proof.worst = max(proof.worst, gap / (scale + 1e-12), moment_gap)
            if gap > tolerance * scale + 1e-7 or moment_gap > tolerance:
                return Proof(False, T_replay(start["step"] + 1, end["step"], call, lr),
                             replayed=proof.replayed, worst=proof.worst, segments=count)
        z = alignment(first[0], features_of(index), labels[torch.from_numpy(index)])
    finally:
        torch.set_num_threads(threads)
    if z > ALIGNMENT_Z:
        return _refuse("training in {c} did not start from a fresh initialization of the new head: its initial weights "
                       "already point at the classes' mean features (alignment {z:.1f} standard deviations, a random "
                       "initialization stays within {b}): a head brought from elsewhere earns no points.",
                       "el entrenamiento de {c} no empezó desde una inicialización nueva de la cabeza: sus pesos "
                       "iniciales ya apuntan a las características medias de las clases (alineación de {z:.1f} "
                       "desviaciones típicas; una inicialización aleatoria no pasa de {b}): una cabeza traída de "
                       "fuera no puntúa.", c=call, z=z, b=ALIGNMENT_Z)
    return proof


def T_replay(first: int, last: int, call: str, lr: float):
    from autograder.feedback import T

    return T("replaying steps {a}-{b} of {c} (Adam, lr={lr}, on the cross-entropy of the new head over the frozen "
             "backbone's features of the given images, computed by the grader) does not give the head it reached: it "
             "was not trained that way on the data given.",
             "al repetir los pasos {a}-{b} de {c} (Adam, lr={lr}, con la entropía cruzada de la cabeza nueva sobre las "
             "características de la red base congelada para las imágenes recibidas, calculadas por el corrector) no "
             "se obtiene la cabeza que alcanzó: no se entrenó así con los datos dados.") \
        .format(a=first, b=last, c=call, lr=lr)
