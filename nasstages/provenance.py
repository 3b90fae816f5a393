"""What produced a result: config, package versions, git commit, time.

Every stage attaches this record to its output (HDF5 attributes or a JSON sidecar) so that a
number in a paper can be traced back to the code and settings that made it.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import nasstages

TRACKED_PACKAGES = ("numpy", "scipy", "h5py", "pandas", "torch", "pot", "gpytorch", "numba", "snakemake")


def config_hash(config: Any) -> str:
    """Short stable hash of a JSON-serialisable config (key order does not matter)."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def package_versions() -> dict[str, str]:
    """Versions of the packages whose behaviour can change a result (installed ones only)."""
    versions = {"python": platform.python_version(), "nasstages": nasstages.__version__}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_commit(start: Path | None = None) -> str:
    """The git commit of the nasstages checkout (``+dirty`` if modified), or ``unknown``."""
    where = start or Path(nasstages.__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


@functools.lru_cache(maxsize=1)
def code_sha256() -> str:
    """SHA-256 over the nasstages package's Python sources (paths and contents).

    Unlike the git commit it also identifies an uncommitted tree, so a finished result can be
    reused only when the code that would recompute it is byte-identical (see ``runner``).
    """
    root = Path(nasstages.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def provenance(config: Any) -> dict[str, Any]:
    """The full provenance record for an output made from ``config``."""
    return {
        "config": config,
        "config_hash": config_hash(config),
        "versions": package_versions(),
        "git_commit": git_commit(),
        "code_sha256": code_sha256(),
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
