"""Atomic file writes: write to a temporary name beside the target, then rename.

A job killed half-way leaves either the old file or no file, never a partial one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    On an exception the temporary file is removed and ``target`` is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(target: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(target: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``target`` atomically."""
    write_text_atomic(target, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def exclusive_outputs(targets: list[Path], what: str) -> Iterator[None]:
    """Hold an exclusive lock beside each of ``targets`` (``.<name>.lock``) for the block, after
    checking that their folders are writable; fail at once, naming the path, when another
    process holds one (two writers would interleave a result) or a folder can't be written.

    ``flock`` locks die with their process, so a killed job leaves no stale lock to clean up.
    """
    import fcntl

    from nasstages.errors import ConfigError

    handles = []
    try:
        for target in targets:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                handle = open(target.parent / f".{target.name}.lock", "a")
            except OSError as exc:
                raise ConfigError(f"{what}: cannot write to {target.parent} ({exc.strerror}); choose a writable "
                                  "output folder") from None
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                raise ConfigError(f"{what}: another process is writing {target} right now; wait for it to end "
                                  "(one writer per output)") from None
            handles.append(handle)
        yield
    finally:
        for handle in handles:
            handle.close()  # releases the lock


def folder_write_error(folder: str | os.PathLike[str]) -> str | None:
    """Why ``folder`` cannot be created or written (the OS's words), or None if it can."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        return str(exc.strerror or exc)
    return None


def labelled_arrays_sha256(strings: list[str] | tuple[str, ...], arrays: dict[str, Any]) -> str:
    """SHA-256 over ``strings`` (one per line) and each named array's bytes in name order: the
    content checksum of the stage files (benchmark stores, embeddings, proxy scores)."""
    import numpy as np

    digest = hashlib.sha256("\n".join(strings).encode("utf-8"))
    for name in sorted(arrays):
        digest.update(name.encode("utf-8"))
        digest.update(np.ascontiguousarray(arrays[name]).tobytes())
    return digest.hexdigest()
