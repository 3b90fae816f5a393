"""Architecture encoders: arch2vec (unsupervised VGAE, pretrained once per space) and ranking
predictors (GATES and MLP/LSTM baselines), with the checks that measure them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nasstages.registry import import_target


@dataclass(frozen=True)
class PretrainedEncoder:
    """An encoder pretrained once per space (``encoders.<space>.<name>`` in the config): where its
    hyperparameters are parsed (``settings``: a ``"module:Class"`` with ``from_params``, imported
    only when checked) and what a space must offer for it (``requires``, as methods declare)."""

    name: str
    settings: str
    requires: dict[str, str] = field(default_factory=dict)

    def check(self, params: dict[str, Any] | None) -> None:
        """Raise ConfigError on bad hyperparameters (the settings class names the bad key)."""
        import_target(self.settings).from_params(params or {})


#: every pretrained encoder the config may name, by name (one line per encoder)
PRETRAINED_ENCODERS: dict[str, PretrainedEncoder] = {
    "arch2vec": PretrainedEncoder("arch2vec", "nasstages.encoders.arch2vec:Arch2vecConfig",
                                  {"single_cell": "arch2vec embeds one fixed-size cell graph"}),
}
