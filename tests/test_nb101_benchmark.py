"""NB101 from a file in exactly the official format (framing, CRCs, JSON rows, protobuf metrics),
written here from hand-made cells: the store keeps every field, queries follow the protocol, and
a missing, foreign or damaged file fails before anything is written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nasstages.benchmarks.nb101_records import EvaluationData, ModelMetrics, NB101Record, encode_record
from nasstages.benchmarks.store import read_store
from nasstages.benchmarks.tfrecord import write_records
from nasstages.errors import BenchmarkSourceError, ConfigError, CorruptStoreError
from nasstages.spaces import get_space

C3, C1, MP = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"
# hand-made cells (pruned specs, as the official file stores them)
HAND_CELLS = [
    ([[0, 1], [0, 0]], ("input", "output")),
    ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ("input", C3, "output")),
    ([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], ("input", C3, MP, "output")),
    # the nasbench README's Inception-like cell
    ([[0, 1, 1, 1, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 1, 0, 0],
      [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0]],
     ("input", C1, C3, C3, C3, MP, "output")),
]


def _cells(n_random: int = 20) -> list[tuple[np.ndarray, tuple[str, ...]]]:
    """The hand-made cells plus random ones, each isomorphism class once, as pruned specs."""
    space = get_space("nb101")
    rng = np.random.default_rng(7)
    out, seen = [], set()
    candidates = [space.from_cell_graph(np.array(m), ops) for m, ops in HAND_CELLS]
    candidates += [space.sample(rng) for _ in range(5 * n_random)]
    for arch in candidates:
        key = space.iso_hash(arch)
        if key in seen:
            continue
        seen.add(key)
        cell = space.to_graph(arch).cells[next(iter(space.to_graph(arch).cells))]
        out.append((np.asarray(cell.adjacency, dtype=np.int8), tuple(cell.ops)))
        if len(out) == len(HAND_CELLS) + n_random:
            break
    return out


def _metrics(k: int, repeat: int, epochs: int) -> ModelMetrics:
    """Distinct values per (cell, repeat, epochs), so a misplaced one shows."""
    base = 0.80 + 0.005 * k + 0.001 * repeat + epochs / 10_000
    evaluations = [EvaluationData(current_epoch=e, training_time=10.0 * e + k + repeat,
                                  train_accuracy=base + 0.01, validation_accuracy=base * f,
                                  test_accuracy=base * f - 0.002, checkpoint_path=f"model.ckpt-{k}-{repeat}")
                   for e, f in ((0, 0.1), (epochs / 2, 0.9), (epochs, 1.0))]
    return ModelMetrics(evaluation_data=evaluations, trainable_parameters=100_000 + 17 * k, total_time=11.0 * epochs)


def write_official_format(path: Path, cells, epochs=(108,), repeats: int = 3, module_hash=None) -> Path:
    """``cells`` as the official file has them: ``repeats`` records per (cell, epochs), in that order."""
    space = get_space("nb101")
    payloads = []
    for e in epochs:
        for k, (matrix, ops) in enumerate(cells):
            digest = module_hash or space.iso_hash(space.from_cell_graph(matrix, ops))
            for r in range(repeats):
                payloads.append(encode_record(NB101Record(module_hash=digest, epochs=e, adjacency=matrix, ops=ops,
                                                          metrics=_metrics(k, r, e))))
    write_records(path, payloads)
    return path


def _fetch(official: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nasstages", "benchmarks", "fetch", "--benchmark", "nb101",
                           "--official", str(official), "--out", str(out)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nb101")
    cells = _cells()
    official = write_official_format(folder / "nasbench_only108.tfrecord", cells, epochs=(108, 36))
    result = _fetch(official, folder / "nb101.h5")
    assert result.returncode == 0, result.stderr
    return cells, official, folder / "nb101.h5"


def test_store_keeps_every_field_of_the_file(built):
    cells, official, store = built
    space = get_space("nb101")
    data = read_store(store)
    assert data.benchmark == data.space == "nb101" and list(data.datasets) == ["cifar10"]
    assert data.source["kind"] == "official" and data.source["unique_cells"] == len(cells)
    assert data.source["records"] == len(cells) * 3 * 2 and data.source["complete"] is False
    import hashlib

    assert data.source["sha256"][official.name] == hashlib.sha256(official.read_bytes()).hexdigest()
    table = data.datasets["cifar10"]
    assert table.epochs == 108 and table.split == "valid" and table.valid_acc.shape == (len(cells), 3)
    row_of = {s: k for k, s in enumerate(data.archs)}
    hashes = [space.iso_hash(space.from_cell_graph(m, ops)) for m, ops in cells]
    assert [space.iso_hash(space.from_string(s)) for s in data.archs] == sorted(hashes)  # rows by module hash
    for k, (matrix, ops) in enumerate(cells):
        row = row_of[space.to_string(space.canonicalize(space.from_cell_graph(matrix, ops)))]
        for r in range(3):
            final = _metrics(k, r, 108).evaluation_data[2]
            assert table.valid_acc[row, r] == pytest.approx(100 * final.validation_accuracy, abs=1e-12)
            assert data.low_fidelity[f"test_acc_108ep_r{r}"][row] == pytest.approx(100 * final.test_accuracy, abs=1e-12)
            assert data.low_fidelity[f"train_time_s_108ep_r{r}"][row] == final.training_time
            other = _metrics(k, r, 36).evaluation_data[2]
            assert data.low_fidelity[f"valid_acc_36ep_r{r}"][row] == pytest.approx(100 * other.validation_accuracy,
                                                                                   abs=1e-12)
        assert table.train_time_s[row] == pytest.approx(np.mean([_metrics(k, r, 108).evaluation_data[2].training_time
                                                                 for r in range(3)]))
        assert table.params_mb[row] == pytest.approx((100_000 + 17 * k) / 1e6)


def test_queries_draw_a_repeat_and_answer_for_any_isomorphic_spec(built):
    from nasstages.benchmarks import load_benchmark

    cells, _, store = built
    bench = load_benchmark("nb101", store)
    space = bench.space
    matrix, ops = cells[3]  # the Inception-like cell: intermediate vertices relabelled below
    arch = space.from_cell_graph(matrix, ops)
    order = [0, 5, 3, 4, 2, 1, 6]  # a topological relabelling of the same graph (3 -> 4 kept in order)
    relabelled = space.from_cell_graph(np.asarray(matrix)[np.ix_(order, order)], tuple(ops[i] for i in order))
    assert space.to_string(relabelled) != space.to_string(arch)
    assert bench.row(relabelled) == bench.row(arch)
    rng = np.random.default_rng(0)
    draws = {bench.query(arch, "cifar10", rng).valid_acc for _ in range(60)}
    expected = {100 * _metrics(3, r, 108).evaluation_data[2].validation_accuracy for r in range(3)}
    assert len(draws) == 3 and all(min(abs(d - e) for e in expected) < 1e-9 for d in draws)
    assert bench.mean_valid(arch, "cifar10") == pytest.approx(np.mean(sorted(expected)))
    assert bench.query(arch, "cifar10", rng, noise="mean").seed_slot == -1
    assert len(bench.archs()) == len(cells) and bench.optimum("cifar10") == pytest.approx(
        max(np.mean([100 * _metrics(k, r, 108).evaluation_data[2].validation_accuracy for r in range(3)])
            for k in range(len(cells))))
    missing = next(a for a in (space.sample(np.random.default_rng(s)) for s in range(100))
                   if space.to_string(space.canonicalize(a)) not in set(bench.arch_strings))
    with pytest.raises(CorruptStoreError, match="partial file"):
        bench.query(missing, "cifar10", rng)


def test_a_foreign_hash_or_a_damaged_file_is_refused(tmp_path):
    cells = _cells(3)
    foreign = write_official_format(tmp_path / "foreign.tfrecord", cells, module_hash="0" * 32)
    result = _fetch(foreign, tmp_path / "a.h5")
    assert result.returncode != 0 and "module hash" in result.stderr and not (tmp_path / "a.h5").exists()
    good = write_official_format(tmp_path / "good.tfrecord", cells)
    damaged = tmp_path / "damaged.tfrecord"
    raw = bytearray(good.read_bytes())
    raw[len(raw) // 2] ^= 0x40
    damaged.write_bytes(bytes(raw))
    result = _fetch(damaged, tmp_path / "b.h5")
    assert result.returncode != 0 and "download it again" in result.stderr and not (tmp_path / "b.h5").exists()
    truncated = tmp_path / "truncated.tfrecord"
    truncated.write_bytes(good.read_bytes()[:-7])
    result = _fetch(truncated, tmp_path / "c.h5")
    assert result.returncode != 0 and "Traceback" not in result.stderr


def test_a_missing_file_fails_the_config_check_naming_key_and_download(tmp_path):
    from nasstages.config.checks import check_config

    config = {"results": str(tmp_path / "results"), "benchmarks": {"nb101": {"official": str(tmp_path / "none")}}}
    with pytest.raises(ConfigError, match=r"benchmarks\.nb101\.official") as info:
        check_config(config)
    assert "storage.googleapis.com/nasbench/nasbench_only108.tfrecord" in str(info.value)
    with pytest.raises(ConfigError, match="none is set"):
        check_config({"results": str(tmp_path / "results"), "benchmarks": {"nb101": {"official": None}}})
    with pytest.raises(BenchmarkSourceError, match="benchmarks.nb101.official"):
        from nasstages.benchmarks import Sources, fetch_store

        fetch_store(Sources(benchmark="nb101"), tmp_path / "x.h5")
