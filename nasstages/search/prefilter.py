"""Zero-shot prefiltering of a candidate pool (``zs_prefilter``): before a method's surrogate scores
its mutation/random candidates, rank them by a zero-shot proxy and keep the top fraction, so the
surrogate only chooses among candidates the proxy already likes (as in proxy-warmed NAS, Abdelfattah
et al. 2021). Scores come from the estimate stage's store when the workflow passes one; candidates
it lacks (or all, without a store) are scored on the fly with a data-free proxy, seeded from the job."""

from __future__ import annotations

import logging
import math
from typing import Any, Sequence

import numpy as np

from nasstages.errors import ConfigError
from nasstages.spaces import Arch, SearchSpace

log = logging.getLogger(__name__)

WORKFLOW_KEYS = {"pool"}        # config only: the workflow turns it into ``scores`` (the estimate file)
OPTIMIZER_KEYS = {"proxy", "keep", "scores"}


def check_prefilter_settings(settings: Any, in_config: bool) -> None:
    """Fail early on a malformed ``zs_prefilter`` (config form with ``pool``, optimizer form with ``scores``)."""
    from nasstages.evaluators.proxy_names import DATA_FREE, PROXIES

    if not isinstance(settings, dict) or "proxy" not in settings:
        raise ConfigError("zs_prefilter: give {proxy: <name>, keep: <fraction>} (and optionally pool: <estimate pool>)")
    accepted = (OPTIMIZER_KEYS - {"scores"} | WORKFLOW_KEYS) if in_config else OPTIMIZER_KEYS
    unknown = sorted(set(settings) - accepted)
    if unknown:
        raise ConfigError(f"zs_prefilter: unknown key(s) {unknown}; accepted: {sorted(accepted)}")
    proxy, keep = settings["proxy"], settings.get("keep", 0.5)
    if proxy not in PROXIES:
        raise ConfigError(f"zs_prefilter.proxy: unknown proxy {proxy!r}; choose from: {', '.join(PROXIES)}")
    if not isinstance(keep, (int, float)) or not 0 < keep <= 1:
        raise ConfigError(f"zs_prefilter.keep must be a fraction in (0, 1], not {keep!r}")
    stored = settings.get("pool" if in_config else "scores")
    if not stored and proxy not in DATA_FREE:
        raise ConfigError(f"zs_prefilter: proxy {proxy!r} needs data; give it an estimate pool "
                          f"(zs_prefilter.pool, with {proxy} under estimates) or use one of {', '.join(DATA_FREE)}")


class ZeroShotPrefilter:
    """``keep`` fraction (at least one) of a candidate list, best ``proxy`` score first; ties keep
    the pool's order."""

    def __init__(self, space: SearchSpace, rng: np.random.Generator, proxy: str, keep: float,
                 scores: str = "") -> None:
        check_prefilter_settings({"proxy": proxy, "keep": keep, "scores": scores}, in_config=False)
        self.space, self.proxy, self.keep = space, proxy, keep
        self.cache: dict[str, float] = {}
        if scores:
            from nasstages.evaluators.estimates import read_estimates

            names, values, attrs = read_estimates(scores)
            if str(attrs.get("proxy")) != proxy:
                raise ConfigError(f"{scores} holds {attrs.get('proxy')!r} scores, not zs_prefilter.proxy {proxy!r}")
            values = values.mean(axis=1) if values.ndim == 2 else values  # several seeds: their mean
            self.cache = dict(zip(names, map(float, values)))
        self.seed = int(rng.integers(2**31))  # on-the-fly network initialization
        self.computed = 0

    def scores(self, archs: Sequence[Arch]) -> np.ndarray:
        """The proxy of each architecture (cached; computed on the fly when not in the store)."""
        strings = [self.space.to_string(a) for a in archs]
        missing = [k for k, s in enumerate(strings) if s not in self.cache]
        if missing:
            from nasstages.evaluators.estimates import minibatch, score_archs

            inputs, targets, _ = minibatch(2, self.seed)
            values = score_archs(self.space.name, [archs[k] for k in missing], self.proxy, inputs, targets, self.seed)
            self.cache.update({strings[k]: float(v) for k, v in zip(missing, values)})
            self.computed += len(missing)
        return np.array([self.cache[s] for s in strings])

    def __call__(self, candidates: list[Arch]) -> list[Arch]:
        if not candidates:
            return candidates
        values = self.scores(candidates)
        values = np.where(np.isfinite(values), values, -np.inf)
        kept = max(1, math.ceil(self.keep * len(candidates)))
        order = np.sort(np.argsort(-values, kind="stable")[:kept])  # keep the pool's order among the kept
        return [candidates[int(i)] for i in order]


def make_prefilter(space: SearchSpace, rng: np.random.Generator, settings: dict[str, Any] | None
                   ) -> ZeroShotPrefilter | None:
    """The prefilter a method's ``zs_prefilter`` parameter asks for ({proxy, keep[, scores]}), or None."""
    if not settings:
        return None
    check_prefilter_settings(settings, in_config=False)
    return ZeroShotPrefilter(space, rng, settings["proxy"], float(settings.get("keep", 0.5)),
                             settings.get("scores", ""))
