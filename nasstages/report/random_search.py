"""Random search's exact expectation on a finite tabular space: what a published random-search
number can be checked against without running anything.

Under the ``string`` query rule random search draws ``q`` distinct architectures uniformly from
the N of the space, so its final incumbent is the maximum of a uniform q-subset of the values:
P(best ≤ v_(k)) = C(k, q) / C(N, q) with v_(1) ≤ … ≤ v_(N) the sorted values (order statistics of
sampling without replacement), from which the mean and standard deviation follow exactly.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln


def expected_best_of_uniform(values: np.ndarray, queries: int) -> tuple[float, float]:
    """(mean, standard deviation) of the best (largest) of ``queries`` distinct uniform draws."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    n = len(v)
    if not 1 <= queries <= n:
        raise ValueError(f"queries must lie in 1..{n}, got {queries}")
    k = np.arange(1, n + 1)  # P(best <= v_(k)) = C(k, q) / C(n, q)
    log_cdf = np.full(n, -np.inf)
    ok = k >= queries
    log_cdf[ok] = (gammaln(k[ok] + 1) - gammaln(k[ok] - queries + 1)
                   - gammaln(n + 1) + gammaln(n - queries + 1))
    cdf = np.exp(log_cdf)
    p = np.diff(np.concatenate([[0.0], cdf]))
    mean = float(np.sum(p * v))
    return mean, float(np.sqrt(max(np.sum(p * (v - mean) ** 2), 0.0)))
