"""The training proof (autograder/graders/training_proof.py) on a small real CIFAR-10 run, in this process.

Valid loops written the ways people write them are verified; runs that did not train the returned weights
on the data given (weights brought from elsewhere, swapped in at the end, slipped in half-way, spread over
every step, or a different update rule) are refused, each for its cause.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from autograder import data
from autograder.data import MEAN, STD
from autograder.graders import trusted_models, training_proof
from autograder.graders.cifar_oracles import reference_tensors
from autograder.repro import seed_everything
from autograder.sandbox.helpers import common, training

pytestmark = pytest.mark.skipif(data.detect_layout(data.cifar10_root()) is None,
                                reason="real CIFAR-10 not found: set CIFAR10_ROOT")
N, EPOCHS, BATCH, LR = 1200, 2, 50, 0.02  # 48 steps: 6 stretches of 8, of which 3 or 4 are replayed


@pytest.fixture(scope="module")
def images():
    x, y = data.load_cifar10("train", progress=False)
    keep = data.stratified_indices(y, per_class=N // 10, seed=7)
    return x[keep], y[keep]


@pytest.fixture(scope="module")
def elsewhere(images):
    """Weights 'brought from elsewhere': a LeNet trained beforehand, on other images, with another optimizer."""
    x, y = data.load_cifar10("test", progress=False)
    torch.manual_seed(1)
    net = trusted_models.deck_lenet()
    xt, yt = reference_tensors(x[:2000], y[:2000])
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    for _ in range(3):
        for i in range(0, 2000, 100):
            optimizer.zero_grad()
            nn.functional.cross_entropy(net(xt[i:i + 100]), yt[i:i + 100]).backward()
            optimizer.step()
    return [p.detach().clone() for p in net.parameters()]


def loader(x, y, shuffle=True, seed=0, generator=True):
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=BATCH, shuffle=shuffle,
                                       generator=torch.Generator().manual_seed(seed) if generator else None)


def statement_loop(model, batches, optimizer):
    model.train()
    for xb, yb in batches:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        optimizer.step()


def quickstart_loop(model, batches, optimizer):
    """The PyTorch Quickstart's order: backward, step, then zero_grad."""
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for X, y in batches:
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()


def accumulating_loop(model, batches, optimizer):
    """The classic bug: zero_grad forgotten."""
    for xb, yb in batches:
        nn.functional.cross_entropy(model(xb), yb).backward()
        optimizer.step()


def run(images, *, loop=statement_loop, before=None, during=None, after=None, lr=LR, labels=None, init=None,
        global_shuffle=False, mean=MEAN, std=STD):
    """A fit-like run recorded as the grader records it; hooks tamper with it the way attacks would."""
    x_img, y = images
    x, yt = reference_tensors(x_img, y if labels is None else labels, mean=mean, std=std)
    recording = training.start(x_img, MEAN, STD, 8)
    try:
        seed_everything(0, threads=1)
        model = trusted_models.deck_lenet()
        if init is not None:
            with torch.no_grad():
                for p, v in zip(model.parameters(), init):
                    p.copy_(v)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        if before is not None:
            before(model)
        for epoch in range(EPOCHS):
            batches = loader(x, yt, seed=epoch, generator=not global_shuffle)
            if during is not None:
                batches = during(model, epoch, batches)
            loop(model, batches, optimizer)
        if after is not None:
            after(model)
    finally:
        record = training.finish(recording)
    net = trusted_models.load_state(trusted_models.deck_lenet(), common.state(model), "fit", "LeNet")
    return training_proof.verify(
        record, build=trusted_models.deck_lenet, images=x_img, mean=MEAN, std=STD,
        labels=torch.as_tensor(y, dtype=torch.int64), n_train=len(y), final_params=list(net.parameters()),
        epochs=EPOCHS, batch_size=BATCH, lr=LR, momentum=0.9, random_segments=1, largest_segments=1)


def load(model, weights):
    with torch.no_grad():
        for p, v in zip(model.parameters(), weights):
            p.copy_(v)


@pytest.mark.parametrize("loop", [statement_loop, quickstart_loop], ids=["statement", "quickstart_order"])
def test_valid_loops_are_verified(images, loop):
    proof = run(images, loop=loop)
    assert proof.ok, proof.why
    assert proof.segments == EPOCHS * N // BATCH // 8 and {0, proof.segments - 1} <= set(proof.replayed)
    assert len(proof.replayed) < proof.segments
    assert proof.worst < 1e-4


def test_other_valid_choices_are_verified(images):
    """Another draw of the initialization, and shuffling from torch's global generator (DataLoader(shuffle=True))."""
    proof = run(images, before=lambda model: None, init=[p.detach() for p in trusted_models.deck_lenet().parameters()],
                global_shuffle=True)
    assert proof.ok, proof.why


@pytest.mark.parametrize("mean, std", [((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)), ((0, 0, 0), (1 / 255,) * 3)],
                         ids=["other_constants", "no_normalization"])
def test_training_on_otherwise_normalized_images_is_still_verified(images, mean, std):
    """A to_tensors bug (the web's CIFAR-10 constants; no normalization at all) costs to_tensors' points and
    whatever accuracy it costs, not the evidence that fit trained: its batches are recognized and replayed as
    they were."""
    proof = run(images, mean=mean, std=std)
    assert proof.ok, proof.why
    assert proof.worst < 1e-3


def test_weights_brought_from_elsewhere_and_fine_tuned_are_refused(images, elsewhere):
    proof = run(images, init=elsewhere)
    assert not proof.ok and "fresh initialization" in str(proof.why)


def test_weights_swapped_in_after_training_are_refused(images, elsewhere):
    proof = run(images, after=lambda model: load(model, elsewhere))  # in place: the optimizer holds them too
    assert not proof.ok and "replaying steps 41-48" in str(proof.why)  # the last stretch is always replayed


def test_a_model_other_than_the_trained_one_is_refused(images, elsewhere):
    x_img, y = images
    recording = training.start(x_img, MEAN, STD, 8)
    seed_everything(0, threads=1)
    model = trusted_models.deck_lenet()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    x, yt = reference_tensors(x_img, y)
    for epoch in range(EPOCHS):
        statement_loop(model, loader(x, yt, seed=epoch), optimizer)
    record = training.finish(recording)
    proof = training_proof.verify(record, build=trusted_models.deck_lenet, inputs=None, labels=None, n_train=len(y),
                                  final_params=elsewhere, epochs=EPOCHS, batch_size=BATCH, lr=LR, momentum=0.9)
    assert not proof.ok and "not the one fit trained" in str(proof.why)


def test_a_jump_half_way_is_replayed_and_refused(images, elsewhere):
    """Trained for real, except that the weights are replaced once, in the middle of the second epoch."""
    def during(model, epoch, batches):
        for step, batch in enumerate(batches):
            if epoch == 1 and step == 3:
                load(model, elsewhere)
            yield batch

    proof = run(images, during=during)
    assert not proof.ok and "replaying steps" in str(proof.why)


def test_a_jump_spread_over_every_step_is_refused(images, elsewhere):
    """Each step also moves the weights a little towards weights trained elsewhere: no step is large."""
    def during(model, epoch, batches):
        for batch in batches:
            yield batch  # its step is taken, then:
            with torch.no_grad():
                for p, target in zip(model.parameters(), elsewhere):
                    p.add_(0.05 * (target - p))

    proof = run(images, during=during)
    assert not proof.ok and "replaying steps" in str(proof.why)


def test_a_changed_update_rule_is_refused(images):
    assert "not the statement's" in str(run(images, lr=0.05).why)
    accumulated = run(images, loop=accumulating_loop)
    assert not accumulated.ok and "replaying steps" in str(accumulated.why)


def test_training_on_other_labels_is_refused(images):
    """A loop that pairs images with the wrong labels (shuffled apart) trains on data it was not given."""
    rng = np.random.default_rng(0)
    proof = run(images, labels=rng.permutation(images[1]))
    assert not proof.ok and "replaying steps" in str(proof.why)


def test_no_training_at_all_is_refused(images):
    x_img, y = images
    recording = training.start(x_img, MEAN, STD, 8)
    record = training.finish(recording)
    net = trusted_models.deck_lenet()
    proof = training_proof.verify(record, build=trusted_models.deck_lenet, inputs=None, labels=None, n_train=len(y),
                                  final_params=list(net.parameters()), epochs=EPOCHS, batch_size=BATCH, lr=LR,
                                  momentum=0.9)
    assert not proof.ok and "0 optimizer steps" in str(proof.why)


def test_a_forged_record_of_the_wrong_form_is_refused_not_crashed():
    for record in (None, {}, {"sizes": "x"}, {"sizes": torch.zeros(3), "indices": torch.zeros(0), "checkpoints": [1]}):
        proof = training_proof.verify(record, build=trusted_models.deck_lenet, inputs=None, labels=None, n_train=10,
                                      final_params=[], epochs=1, batch_size=10, lr=LR, momentum=0.9)
        assert not proof.ok


def test_the_default_initialization_test():
    assert training_proof.default_init_problem(list(trusted_models.deck_lenet().parameters()),
                                               trusted_models.deck_lenet()) is None
    params = [p.detach() * 3 for p in trusted_models.deck_lenet().parameters()]
    assert training_proof.default_init_problem(params, trusted_models.deck_lenet()) == "0.weight"
    shrunk = [p.detach() * 0.5 for p in trusted_models.deck_lenet().parameters()]  # in the bound, not uniform
    assert training_proof.default_init_problem(shrunk, trusted_models.deck_lenet()) == "0.weight"


def test_replays_side_by_side_are_bit_identical_to_one_after_another(images):
    """The proof replays two stretches at a time on two threads, each on one intra-op thread: every result is
    exactly the sequential single-threaded one, and torch's thread count is left as it was."""
    x_img, y = images
    inputs = training_proof.pixel_inputs(x_img, MEAN, STD)
    labels = torch.as_tensor(y, dtype=torch.int64)
    torch.manual_seed(3)
    start = {"params": [p.detach().clone() for p in trusted_models.deck_lenet().parameters()],
             "buffers": [None] * 10}
    stretches = [np.random.default_rng(i).permutation(N)[:4 * BATCH].reshape(4, BATCH) for i in range(4)]

    def replay(batches):
        return training_proof._replay(trusted_models.deck_lenet, start, list(batches), inputs, labels, LR, 0.9)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one_after_another = [replay(batches) for batches in stretches]
    finally:
        torch.set_num_threads(threads)
    side_by_side = training_proof.single_threaded_map(replay, stretches)
    assert torch.get_num_threads() == threads
    for (a_params, a_buffers), (b_params, b_buffers) in zip(one_after_another, side_by_side):
        assert all(torch.equal(a, b) for a, b in zip(a_params + a_buffers, b_params + b_buffers))
    with pytest.raises(ZeroDivisionError):
        training_proof.single_threaded_map(lambda item: 1 / item, [1, 0])
    assert torch.get_num_threads() == threads
