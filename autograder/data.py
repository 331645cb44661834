"""CIFAR-10 for graders, notebooks and benchmarks: two layouts, one decoded cache.

Where the data is (first match wins):

1. the ``root`` argument;
2. the environment variable ``CIFAR10_ROOT``;
3. ``cifar10_root`` in the ``[data]`` table of the configuration file
   (``$AUTOGRADER_CONFIG``, else ``./autograder.toml``);
4. ``<cache dir>/cifar10``.

Accepted layouts under that root: torchvision's official one
(``cifar-10-batches-py/data_batch_1`` ... ``test_batch``, fetched with
``download=True`` when online) and an image folder (``train/<class>/*.jpg``,
``test/<class>/*.jpg``, classes in the official label order).

The first load of a split decodes it into ``<cache dir>/cifar10-<layout>-<split>.npz``
(uint8 images, labels) with a fingerprint of the source files; later loads
read the cache in about a second. A cache whose fingerprint no longer matches,
or that cannot be read, is rebuilt. The cache directory is
``AUTOGRADER_CACHE``, else ``cache_dir`` in ``[data]``, else
``$XDG_CACHE_HOME/cnn-course`` (``~/.cache/cnn-course``).
"""
from __future__ import annotations

import hashlib
import os
import pickle
import tomllib
import zipfile
from pathlib import Path

import numpy as np

from autograder.course import CourseError

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SPLITS = ("train", "test")
# Per-channel statistics of the training images in [0, 1] (../shared/datasets/README.md).
MEAN = (0.4913, 0.4821, 0.4465)
STD = (0.2452, 0.2428, 0.2606)
OFFICIAL_DIR = "cifar-10-batches-py"
OFFICIAL_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
CACHE_VERSION = 1


class DatasetNotFound(CourseError):
    """CIFAR-10 is not where the configuration says; the message says how to get it."""


def _config() -> dict:
    path = Path(os.environ.get("AUTOGRADER_CONFIG", "autograder.toml"))
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")).get("data", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CourseError(f"cannot read the configuration file {path}: {exc}") from exc


def cache_dir(directory: str | Path | None = None) -> Path:
    """Folder for decoded data sets and other caches (never inside the repository)."""
    chosen = directory or os.environ.get("AUTOGRADER_CACHE") or _config().get("cache_dir")
    if chosen:
        return Path(chosen).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cnn-course"


def cifar10_root(root: str | Path | None = None) -> Path:
    """The CIFAR-10 root folder chosen by argument, environment, configuration or default."""
    chosen = root or os.environ.get("CIFAR10_ROOT") or _config().get("cifar10_root")
    return Path(chosen).expanduser() if chosen else cache_dir() / "cifar10"


def detect_layout(root: Path) -> tuple[str, Path] | None:
    """``("official", folder)`` or ``("imagefolder", folder)``, or None if neither is there."""
    for folder in (root, root / OFFICIAL_DIR):
        if all((folder / name).is_file() for files in OFFICIAL_FILES.values() for name in files):
            return "official", folder
    if all((root / split / name).is_dir() for split in SPLITS for name in CLASSES):
        return "imagefolder", root
    return None


def _not_found(root: Path) -> DatasetNotFound:
    return DatasetNotFound(
        f"CIFAR-10 was not found in {root}. Either download the official files "
        f"(python -c \"import torchvision; torchvision.datasets.CIFAR10('{root}', download=True)\" "
        f"or load_cifar10(..., download=True)), or put an image folder there "
        f"(train/<class>/*.jpg and test/<class>/*.jpg), or point CIFAR10_ROOT at the folder that has them.")


def _sources(layout: str, folder: Path, split: str) -> list[Path]:
    if layout == "official":
        return [folder / name for name in OFFICIAL_FILES[split]]
    return [p for name in CLASSES for p in sorted((folder / split / name).iterdir()) if p.is_file()]


_LISTED: dict[tuple, tuple[list[Path], str]] = {}  # image folder listings of this process (see _listed)


def _listed(layout: str, folder: Path, split: str) -> tuple[list[Path], str]:
    """The source files of ``split`` and their fingerprint. An image folder's 60,000 files are listed and
    their sizes and times read once per process while its class folders are unchanged (a file added, removed
    or renamed changes its folder); each grading of A4-A6 loads the data set, so this is most of a load's time."""
    if layout == "official":
        files = _sources(layout, folder, split)
        return files, _fingerprint(files)
    folders = [folder / split / name for name in CLASSES]
    key = (str(folder), split, tuple((f.stat().st_ino, f.stat().st_mtime_ns) for f in folders if f.is_dir()))
    if key not in _LISTED:
        files = _sources(layout, folder, split)
        _LISTED[key] = (files, _fingerprint(files))
    files, fingerprint = _LISTED[key]
    return list(files), fingerprint


def _fingerprint(files: list[Path]) -> str:
    digest = hashlib.sha256(f"v{CACHE_VERSION}".encode())
    for path in files:
        stat = path.stat()
        digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _decode_official(files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for path in files:
        with open(path, "rb") as handle:
            batch = pickle.load(handle, encoding="latin1")
        images.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.extend(batch["labels"])
    return np.ascontiguousarray(np.concatenate(images)), np.asarray(labels, dtype=np.int64)


def _decode_imagefolder(files: list[Path], progress) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    images = np.empty((len(files), 32, 32, 3), dtype=np.uint8)
    labels = np.empty(len(files), dtype=np.int64)
    for index, path in enumerate(progress(files)):
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
        if pixels.shape != (32, 32, 3):
            raise CourseError(f"{path} is {pixels.shape[1]}x{pixels.shape[0]}, CIFAR-10 images are 32x32")
        images[index] = pixels
        labels[index] = CLASSES.index(path.parent.name)
    return images, labels


def _rich_progress(description: str):
    def wrap(items):
        from rich.progress import track

        return track(items, description=description, transient=True)

    return wrap


def _read_cache(path: Path, fingerprint: str, count: int | None):
    """The cached arrays, or None when missing, unreadable, stale or of the wrong size."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["fingerprint"]) != fingerprint:
                return None
            images, labels = data["images"], data["labels"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # missing, truncated or foreign file: rebuild
    n = len(labels) if count is None else count
    if images.shape != (n, 32, 32, 3) or labels.shape != (n,):
        return None
    return images, labels


def load_cifar10(split: str = "train", root: str | Path | None = None, *, download: bool = False,
                 cache: str | Path | None = None, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 ``split`` as ``images`` uint8 (N, 32, 32, 3) and ``labels`` int64 (N,).

    N is 50,000 for ``train`` and 10,000 for ``test`` on the real data set. ``download=True`` fetches
    the official files with torchvision when they are not under ``root``.
    Raises DatasetNotFound with instructions when the data is missing.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = cifar10_root(root)
    found = detect_layout(root)
    if found is None and download:
        import torchvision

        torchvision.datasets.CIFAR10(str(root), train=True, download=True)
        found = detect_layout(root)
    if found is None:
        raise _not_found(root)
    layout, folder = found
    files, fingerprint = _listed(layout, folder, split)
    target = cache_dir(cache) / f"cifar10-{layout}-{split}.npz"
    count = len(files) if layout == "imagefolder" else None  # official batches say their own size
    cached = _read_cache(target, fingerprint, count)
    if cached is not None:
        return cached
    show = _rich_progress(f"decoding CIFAR-10 {split} (once)") if progress else (lambda items: items)
    images, labels = _decode_official(files) if layout == "official" else _decode_imagefolder(files, show)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + f".{os.getpid()}.tmp")
    with open(partial, "wb") as handle:
        np.savez(handle, images=images, labels=labels, fingerprint=np.asarray(fingerprint))
    os.replace(partial, target)  # atomic: a reader never sees half a cache
    return images, labels


def stratified_indices(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """``per_class`` random indices of each class (sorted), never "the first N"."""
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == c), size=per_class, replace=False) for c in range(len(CLASSES))]
    return np.sort(np.concatenate(chosen))


def train_val_split(labels: np.ndarray, val_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A fixed, seeded, stratified validation split of a training set: (train indices, validation indices).

    ``val_per_class`` random images of each class go to validation, the rest stay for training;
    both index arrays are sorted. Keep the test set for the very end: tune on validation.
    """
    val = stratified_indices(labels, val_per_class, seed)
    keep = np.ones(len(labels), dtype=bool)
    keep[val] = False
    return np.flatnonzero(keep), val


def small_split(images: np.ndarray, labels: np.ndarray, per_class: int, val_per_class: int, seed: int = 1):
    """A stratified subset of ``per_class`` images of each class, split into training and validation
    (``val_per_class`` of each class): ((x_train, y_train), (x_val, y_val))."""
    subset = stratified_indices(labels, per_class=per_class, seed=seed)
    keep, val = train_val_split(labels[subset], val_per_class=val_per_class, seed=seed)
    return (images[subset][keep], labels[subset][keep]), (images[subset][val], labels[subset][val])
