"""GPU checks: run only where a CUDA GPU is present (never in CI)."""

from __future__ import annotations

import numpy as np
import pytest

from nasstages.distances.fgw_cuda import cuda_available
from nasstages.distances.hotnn import HOTNN
from nasstages.spaces import get_space

pytestmark = pytest.mark.skipif(not cuda_available(), reason="no CUDA GPU")


@pytest.mark.parametrize("loss", ["absolute", "square"])
def test_gpu_engine_equals_cpu_engine(loss):
    space = get_space("nb201")
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(400)]
    cpu = HOTNN(space, loss=loss, restarts=2, device="cpu").pairwise(archs)
    gpu = HOTNN(space, loss=loss, restarts=2, device="cuda").pairwise(archs)
    np.testing.assert_allclose(gpu, cpu, atol=1e-9)
    block_gpu = HOTNN(space, loss=loss, device="cuda").pairwise(archs[:50], archs[50:90])
    block_cpu = HOTNN(space, loss=loss, device="cpu").pairwise(archs[:50], archs[50:90])
    np.testing.assert_allclose(block_gpu, block_cpu, atol=1e-9)
