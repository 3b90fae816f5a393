"""CIFAR-10/100 from the standard "python version" archives (pickled uint8 arrays; no torchvision).

The archives are checked against their published md5 sums before anything is read, so a partial
download or a corrupt file fails here with the fix, never as a silently wrong training run.
"""

from __future__ import annotations

import hashlib
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nasstages.errors import NasstagesError

#: dataset -> (archive name, published md5, member folder, train members, test member, label key)
ARCHIVES = {
    "cifar10": ("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a", "cifar-10-batches-py",
                tuple(f"data_batch_{k}" for k in range(1, 6)), "test_batch", b"labels"),
    "cifar100": ("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85", "cifar-100-python",
                 ("train",), "test", b"fine_labels"),
}
URL = "https://www.cs.toronto.edu/~kriz/{archive}"
NUM_CLASSES = {"cifar10": 10, "cifar100": 100}
# Per-channel mean and std of the CIFAR training sets (0..1 scale), as the DARTS code normalizes.
MEAN = {"cifar10": (0.49139968, 0.48215827, 0.44653124), "cifar100": (0.5071, 0.4865, 0.4409)}
STD = {"cifar10": (0.24703233, 0.24348505, 0.26158768), "cifar100": (0.2673, 0.2564, 0.2762)}


def normalizer(dataset: str, device=None, dtype=None):
    """Per-channel (mean, std) on the 0..255 pixel scale, shaped (1, 3, 1, 1), to normalize uint8
    images as (x - mean) / std."""
    import torch

    mean = torch.tensor(MEAN[dataset], device=device, dtype=dtype).view(1, 3, 1, 1) * 255
    std = torch.tensor(STD[dataset], device=device, dtype=dtype).view(1, 3, 1, 1) * 255
    return mean, std


class DataError(NasstagesError):
    """A dataset archive is missing, corrupt or not in the expected format."""


@dataclass(frozen=True)
class CifarData:
    """Images as uint8 (N, 3, 32, 32) and int64 labels, train and test splits."""

    dataset: str
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    md5: str


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def archive_path(dataset: str, data: str | Path) -> Path:
    """The archive of ``dataset``: ``data`` itself if it is a file, else the standard name inside it."""
    if dataset not in ARCHIVES:
        raise DataError(f"unknown dataset {dataset!r}; the trainer reads: {', '.join(ARCHIVES)}")
    data = Path(data)
    return data if data.is_file() else data / ARCHIVES[dataset][0]


def load_cifar(dataset: str, data: str | Path, md5: str | None = None) -> CifarData:
    """Read and verify ``dataset``'s archive. ``md5`` overrides the published sum (for a custom or
    test archive in the same format); DataError names where to get the file and the key to set."""
    name, published, folder, train_members, test_member, label_key = ARCHIVES[dataset] if dataset in ARCHIVES \
        else (None,) * 6
    path = archive_path(dataset, data)
    if not path.is_file():
        raise DataError(f"{dataset}: no archive at {path}. Download {URL.format(archive=name)} (the 'python version') "
                        f"into that folder, or set benchmarks.darts.data.{dataset} to the archive's path")
    expected = md5 or published
    actual = md5sum(path)
    if actual != expected:
        raise DataError(f"{dataset}: {path} has md5 {actual}, expected {expected} "
                        f"({'set in benchmarks.darts.md5' if md5 else 'the published sum'}); the file is corrupt or "
                        f"partial: download it again from {URL.format(archive=name)}")
    try:
        with tarfile.open(path, "r:gz") as tar:
            train = [_read_member(tar, f"{folder}/{m}", label_key) for m in train_members]
            test = _read_member(tar, f"{folder}/{test_member}", label_key)
    except (tarfile.TarError, EOFError, OSError, pickle.UnpicklingError, KeyError, ValueError) as exc:
        raise DataError(f"{dataset}: cannot read {path} as the CIFAR python archive ({exc})") from None
    return CifarData(dataset=dataset, train_x=np.concatenate([x for x, _ in train]),
                     train_y=np.concatenate([y for _, y in train]), test_x=test[0], test_y=test[1], md5=actual)


def _read_member(tar: tarfile.TarFile, member: str, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    handle = tar.extractfile(member)
    if handle is None:
        raise KeyError(f"{member} is not a file")
    batch = pickle.load(handle, encoding="bytes")
    images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if len(images) != len(labels):
        raise ValueError(f"{member}: {len(images)} images but {len(labels)} labels")
    return images, labels


def write_cifar_archive(path: Path, dataset: str, train_x: np.ndarray, train_y: np.ndarray,
                        test_x: np.ndarray, test_y: np.ndarray, batches: int = 5) -> str:
    """Write arrays as an archive in exactly the official layout (tests, synthetic runs); returns its md5."""
    import io

    _, _, folder, train_members, test_member, label_key = ARCHIVES[dataset]
    parts = np.array_split(np.arange(len(train_x)), len(train_members) if dataset == "cifar100" else batches)
    members = {f"{folder}/{name}": (train_x[idx], train_y[idx]) for name, idx in zip(train_members, parts)}
    members[f"{folder}/{test_member}"] = (test_x, test_y)
    with tarfile.open(path, "w:gz") as tar:
        for member, (x, y) in members.items():
            blob = pickle.dumps({b"data": x.reshape(len(x), -1).astype(np.uint8), label_key: [int(v) for v in y]})
            info = tarfile.TarInfo(member)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return md5sum(path)
