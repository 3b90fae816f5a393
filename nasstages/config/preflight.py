"""Filesystem checks before any job: the results folder is writable, and the shared stage files
many jobs read are intact (a corrupt one would make Snakemake rerun, and so first delete, every
finished result downstream of it)."""

from __future__ import annotations

from typing import Any

from nasstages.config.layout import Layout
from nasstages.config.access import ENCODER_NAMES, trained_benchmarks
from nasstages.errors import ConfigError


def check_results_folder(results: str) -> None:
    """Fail before any job if the results folder cannot be created or written."""
    import os
    from pathlib import Path

    from nasstages.io import folder_write_error

    folder = Path(results)
    error = folder_write_error(folder)
    if error:
        raise ConfigError(f"config results: cannot write to {folder} ({error}); set 'results' to a "
                          "folder you can write, or fix its permissions")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"config results: {folder} is not writable; set 'results' to a folder you can write")


def check_existing_results(config: dict[str, Any]) -> None:
    """Verify the stage files that many jobs read (benchmark stores, pools, encoder embeddings,
    merged distance matrices, proxy scores: each against its content checksum) before scheduling: a corrupt one would make Snakemake rerun, and so first delete, every
    finished result downstream of it. Raise ConfigError naming the file and the fix instead."""
    from pathlib import Path

    from nasstages.benchmarks.store import read_store
    from nasstages.distances.store import read_matrix
    from nasstages.encoders.store import read_embeddings
    from nasstages.errors import CorruptStoreError
    from nasstages.evaluators.data_store import check_data_store_complete
    from nasstages.evaluators.estimates import read_estimates
    from nasstages.pools import read_pool

    layout = Layout(config["results"])
    checks = [(layout.benchmark_store(name), read_store) for name in config.get("benchmarks", {})
              if name not in trained_benchmarks()]
    checks += [(path, check_data_store_complete) for name in trained_benchmarks()
               for path in layout.trained_stores(name)]
    checks += [(layout.pool(space, pool), read_pool)
               for space, pools in config.get("pools", {}).items() for pool in pools]
    checks += [(layout.encoder(space, encoder), read_embeddings)
               for space, settings in config.get("encoders", {}).items() for encoder in ENCODER_NAMES
               if encoder in (settings or {})]
    checks += [(layout.matrix(space, metric, pool), read_matrix)
               for space, settings in config.get("distances", {}).items()
               for metric in (settings or {}).get("metrics", {}) for pool in (settings or {}).get("pools", [])]
    checks += [(layout.estimates(space, proxy, pool), read_estimates)
               for space, settings in config.get("estimates", {}).items()
               for proxy in (settings or {}).get("proxies", []) for pool in (settings or {}).get("pools", [])]
    for path, reader in checks:
        if Path(path).exists():
            try:
                reader(path)
            except CorruptStoreError as exc:
                raise ConfigError(f"{exc} (checked before any job ran: no result was touched)") from None
