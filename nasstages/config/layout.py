"""Where the shared stage files live under the results folder, as the pre-job checks find them (the
rules in workflow/rules/*.smk write the same paths, as patterns with wildcards)."""

from __future__ import annotations

from pathlib import Path


def benchmark_store(results: str | Path, benchmark: str) -> Path:
    return Path(results) / "benchmarks" / f"{benchmark}.h5"


def trained_data_stores(results: str | Path, benchmark: str) -> list[Path]:
    """A trained benchmark's per-dataset data stores that exist now."""
    return sorted((Path(results) / "benchmarks" / benchmark).glob("*.h5"))


def pool_file(results: str | Path, space: str, pool: str) -> Path:
    return Path(results) / "pools" / space / f"{pool}.h5"


def encoder_file(results: str | Path, space: str, encoder: str) -> Path:
    return Path(results) / "encoders" / space / f"{encoder}.h5"


def matrix_file(results: str | Path, space: str, metric: str, pool: str) -> Path:
    return Path(results) / "distances" / space / metric / f"{pool}.h5"


def estimates_file(results: str | Path, space: str, proxy: str, pool: str) -> Path:
    return Path(results) / "estimates" / space / proxy / f"{pool}.h5"
