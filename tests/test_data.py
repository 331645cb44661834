"""The CIFAR-10 data layer on small generated data sets in both layouts, and on the real one if present."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
from PIL import Image

from autograder import data

# The real data set, as configured before the isolation fixture below clears the variables.
REAL_ROOT, REAL_CACHE = os.environ.get("CIFAR10_ROOT"), os.environ.get("AUTOGRADER_CACHE")


def make_imagefolder(root, per_class=2, seed=0):
    """PNG images (lossless) in train/<class>/ and test/<class>/; returns the train pixels by class."""
    rng = np.random.default_rng(seed)
    pixels = {}
    for split in data.SPLITS:
        for label, name in enumerate(data.CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                image = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
                Image.fromarray(image).save(folder / f"{i:04d}.png")
                pixels.setdefault((split, label), []).append(image)
    return pixels


def make_official(root, per_batch=3, seed=0):
    folder = root / data.OFFICIAL_DIR
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for split, names in data.OFFICIAL_FILES.items():
        for name in names:
            batch = {"data": rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8),
                     "labels": list(rng.integers(0, 10, size=per_batch))}
            with open(folder / name, "wb") as handle:
                pickle.dump(batch, handle)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No real configuration leaks into these tests."""
    for name in ("CIFAR10_ROOT", "AUTOGRADER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)


def test_imagefolder_layout_decodes_labels_in_official_order(tmp_path):
    pixels = make_imagefolder(tmp_path / "cifar")
    images, labels = data.load_cifar10("train", tmp_path / "cifar", progress=False)
    assert images.shape == (20, 32, 32, 3) and images.dtype == np.uint8 and labels.dtype == np.int64
    assert labels.tolist() == [c for c in range(10) for _ in range(2)]
    np.testing.assert_array_equal(images[2], pixels[("train", 1)][0])


def test_official_layout_as_chw_batches(tmp_path):
    make_official(tmp_path / "official")
    images, labels = data.load_cifar10("test", tmp_path / "official", progress=False)
    with open(tmp_path / "official" / data.OFFICIAL_DIR / "test_batch", "rb") as handle:
        batch = pickle.load(handle)
    assert images.shape == (3, 32, 32, 3) and labels.tolist() == batch["labels"]
    np.testing.assert_array_equal(images[1, :, :, 2], batch["data"][1, 2048:].reshape(32, 32))  # blue channel
    assert data.load_cifar10("train", tmp_path / "official", progress=False)[0].shape == (15, 32, 32, 3)


def test_second_load_reads_the_cache_without_decoding(tmp_path, monkeypatch):
    make_imagefolder(tmp_path / "cifar")
    first = data.load_cifar10("test", tmp_path / "cifar", progress=False)
    monkeypatch.setattr(data, "_decode_imagefolder", lambda *a: pytest.fail("decoded twice"))
    second = data.load_cifar10("test", tmp_path / "cifar", progress=False)
    np.testing.assert_array_equal(first[0], second[0])
    assert (tmp_path / "cache" / "cifar10-imagefolder-test.npz").is_file()


def test_stale_cache_is_rebuilt_when_the_images_change(tmp_path):
    make_imagefolder(tmp_path / "cifar")
    assert len(data.load_cifar10("test", tmp_path / "cifar", progress=False)[1]) == 20
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "cifar" / "test" / "cat" / "0099.png")
    images, labels = data.load_cifar10("test", tmp_path / "cifar", progress=False)
    assert len(labels) == 21 and labels.tolist().count(3) == 3


def test_a_process_lists_an_unchanged_image_folder_once(tmp_path, monkeypatch):
    """Every grading of A4-A6 loads the data set: the 60,000 files are listed and stat'ed once per process, and
    listed again as soon as a class folder changes."""
    make_imagefolder(tmp_path / "cifar")
    data.load_cifar10("test", tmp_path / "cifar", progress=False)
    real = data._fingerprint
    monkeypatch.setattr(data, "_fingerprint", lambda files: pytest.fail("listed twice"))
    assert len(data.load_cifar10("test", tmp_path / "cifar", progress=False)[1]) == 20
    monkeypatch.setattr(data, "_fingerprint", real)
    (tmp_path / "cifar" / "test" / "cat" / "0000.png").unlink()
    assert len(data.load_cifar10("test", tmp_path / "cifar", progress=False)[1]) == 19


def test_corrupt_cache_is_rebuilt(tmp_path):
    make_imagefolder(tmp_path / "cifar")
    expected = data.load_cifar10("test", tmp_path / "cifar", progress=False)
    cache = tmp_path / "cache" / "cifar10-imagefolder-test.npz"
    cache.write_bytes(cache.read_bytes()[:1000])  # truncated, as after a crash
    np.testing.assert_array_equal(data.load_cifar10("test", tmp_path / "cifar", progress=False)[0], expected[0])


def test_missing_data_says_how_to_get_it(tmp_path):
    with pytest.raises(data.DatasetNotFound) as info:
        data.load_cifar10("train", tmp_path / "nothing")
    message = str(info.value)
    assert "download=True" in message and "train/<class>" in message and "CIFAR10_ROOT" in message


def test_root_from_environment_then_config_then_default(tmp_path, monkeypatch):
    assert data.cifar10_root() == tmp_path / "cache" / "cifar10"
    (tmp_path / "autograder.toml").write_text(f'[data]\ncifar10_root = "{tmp_path / "from-config"}"\n')
    assert data.cifar10_root() == tmp_path / "from-config"
    monkeypatch.setenv("CIFAR10_ROOT", str(tmp_path / "from-env"))
    assert data.cifar10_root() == tmp_path / "from-env"
    assert data.cifar10_root(tmp_path / "argument") == tmp_path / "argument"


def test_bad_split_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="split must be one of"):
        data.load_cifar10("validation", tmp_path)


def test_stratified_indices_are_random_balanced_and_reproducible():
    labels = np.repeat(np.arange(10), 50)  # sorted by class, like the real files
    chosen = data.stratified_indices(labels, per_class=5, seed=3)
    assert np.bincount(labels[chosen]).tolist() == [5] * 10
    np.testing.assert_array_equal(chosen, data.stratified_indices(labels, per_class=5, seed=3))
    assert not np.array_equal(chosen, data.stratified_indices(labels, per_class=5, seed=4))
    assert chosen[:5].tolist() != list(range(5))




@pytest.mark.skipif(not REAL_ROOT, reason="real CIFAR-10 not configured: set CIFAR10_ROOT (.ci/run does)")
def test_real_cifar10_matches_the_published_statistics(monkeypatch):
    if REAL_CACHE:
        monkeypatch.setenv("AUTOGRADER_CACHE", REAL_CACHE)
    images, labels = data.load_cifar10("train", REAL_ROOT)
    assert images.shape == (50_000, 32, 32, 3) and np.bincount(labels).tolist() == [5000] * 10
    mean = images.reshape(-1, 3).mean(axis=0) / 255
    np.testing.assert_allclose(mean, data.MEAN, atol=2e-3)
    assert data.load_cifar10("test", REAL_ROOT)[0].shape == (10_000, 32, 32, 3)
