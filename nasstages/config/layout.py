"""The results folder's layout: the one place that names where every stage file lives.

The workflow's rules take their output patterns from it (arguments given as wildcards, e.g.
``Layout(R).matrix("{space}", "{metric}", "{pool}")``), its target lists and input functions
take concrete paths from it, and the pre-job checks (``preflight``) find the files it names, so a
path is spelled once, not once per rule file and again for the checks.
"""

from __future__ import annotations

from pathlib import Path


class Layout:
    """Paths of the stage files under one results folder (strings, as Snakemake takes them)."""

    def __init__(self, results: str | Path) -> None:
        self.root = str(results)

    # stage 1: benchmark stores
    def benchmark_store(self, benchmark: str) -> str:
        """A tabular benchmark's normalized store."""
        return f"{self.root}/benchmarks/{benchmark}.h5"

    def trained_store(self, benchmark: str, dataset: str) -> str:
        """A trained benchmark's per-dataset data store (DARTS: the CIFAR arrays)."""
        return f"{self.root}/benchmarks/{benchmark}/{dataset}.h5"

    def trained_stores(self, benchmark: str) -> list[Path]:
        """A trained benchmark's per-dataset data stores that exist now."""
        return sorted(Path(self.root, "benchmarks", benchmark).glob("*.h5"))

    # stage 2-3: pools and distances
    def pool(self, space: str, pool: str) -> str:
        return f"{self.root}/pools/{space}/{pool}.h5"

    def matrix(self, space: str, metric: str, pool: str) -> str:
        """A merged distance matrix over a pool."""
        return f"{self.root}/distances/{space}/{metric}/{pool}.h5"

    def matrix_tile(self, space: str, metric: str, pool: str, i: int | str, j: int | str) -> str:
        return f"{self.root}/distances/{space}/{metric}/tiles/{pool}/{i}_{j}.h5"

    # stage 4: encoders and predictors
    def encoder(self, space: str, encoder: str, suffix: str = ".h5") -> str:
        """An encoder's embeddings (``.h5``), model (``.pt``) or training metrics (``.json``)."""
        return f"{self.root}/encoders/{space}/{encoder}{suffix}"

    def encoder_quality(self, space: str, encoder: str) -> str:
        return f"{self.root}/encoders/{space}/{encoder}_quality.json"

    def predictor_quality(self, benchmark: str, dataset: str) -> str:
        return f"{self.root}/predictors/{benchmark}/{dataset}.json"

    # stage 5-6: search, final evaluation, estimates
    def search_log(self, benchmark: str, dataset: str, method: str, seed: int | str, suffix: str = ".csv") -> str:
        """One search run's per-query log (``.csv``) or its JSON record (``.json``)."""
        return f"{self.root}/search/{benchmark}/{dataset}/{method}/seed{seed}{suffix}"

    def evaluation(self, benchmark: str, dataset: str, method: str, seed: int | str, replicate: int | str) -> str:
        """One final training of a search run's incumbent (trained benchmarks)."""
        return f"{self.root}/evaluate/{benchmark}/{dataset}/{method}/seed{seed}/replicate{replicate}.json"

    def estimates(self, space: str, proxy: str, pool: str) -> str:
        return f"{self.root}/estimates/{space}/{proxy}/{pool}.h5"

    def estimates_tile(self, space: str, proxy: str, pool: str, i: int | str) -> str:
        return f"{self.root}/estimates/{space}/{proxy}/tiles/{pool}/{i}.h5"

    def diagnosis(self, space: str, benchmark: str, dataset: str, pool: str) -> str:
        return f"{self.root}/estimates/{space}/diagnosis_{benchmark}_{dataset}_{pool}.json"

    # stage 7: report
    def report(self, name: str = "") -> str:
        """The report folder, or a file at its top (``runs.csv.gz``)."""
        return f"{self.root}/report/{name}" if name else f"{self.root}/report"

    def report_table(self, name: str) -> str:
        return f"{self.root}/report/tables/{name}"

    def report_figure(self, name: str) -> str:
        return f"{self.root}/report/figures/{name}"

    # Snakemake's own bookkeeping, per job
    def log(self, name: str) -> str:
        return f"{self.root}/logs/{name}"

    def timing(self, name: str) -> str:
        return f"{self.root}/timing/{name}"
