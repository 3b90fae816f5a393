"""Final evaluation on a trained benchmark (DARTS): train a search run's incumbent from scratch under
the final protocol, one seed per replicate shared by every method (so methods differ only in the cell)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nasstages.errors import ConfigError


def evaluate_incumbent(search_csv: Path, store: Path, dataset: str, protocol_params: dict[str, Any], seed: int,
                       work_dir: Path, device: str) -> dict[str, Any]:
    """The search run's best observed cell trained under ``protocol_params``: what the evaluation
    record holds besides provenance (cell, its search accuracy and step, final accuracies, cost)."""
    import pandas as pd

    from nasstages.evaluators.benchmark import train_once
    from nasstages.evaluators.data_store import read_data_store
    from nasstages.evaluators.protocol import Protocol
    from nasstages.spaces.darts import DartsSpace

    protocol = Protocol.from_params(protocol_params, where="benchmarks.darts.final")
    data, data_sha = read_data_store(store)
    if dataset not in data:
        raise ConfigError(f"the store {store} has no dataset {dataset!r} (it has {', '.join(data)})")
    search = pd.read_csv(search_csv)
    space = DartsSpace(layers=protocol.layers)
    best = search.loc[search["observed_acc"].idxmax()]  # the incumbent rule: best observed validation accuracy
    arch = space.from_string(best["arch"])
    result = train_once(space, arch, data[dataset], protocol, seed, work_dir, device)
    return {"protocol": protocol.__dict__, "data_sha256": data_sha, "arch": space.to_string(arch),
            "search_valid_acc": float(best["observed_acc"]), "search_step": int(best["step"]),
            "valid_acc": result.valid_acc, "test_acc": result.test_acc, "params": result.params,
            "train_s": result.train_s, "epochs": result.epochs, "history": result.history}
