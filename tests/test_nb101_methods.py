"""Every method that applies to NB101 runs on an NB101 store built from an official-format file.

The file here holds every valid cell of nasbench's space at ``module_vertices = 5`` (the benchmark's
own configuration knob, 7 in the released data), so searches never step outside it; the space, the
reader, the store and the methods are the same code as with the real file. The metrics are a
deterministic function of the cell (conv3x3 nodes help, pools hurt), so a search has something to find.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from nasstages.spaces import nb101 as nb101_module

from test_nb101_benchmark import write_official_format

VERTICES = 5
APPLICABLE = ["rs", "re", "bo_edit", "bananas", "hotnas", "nasbot", "twnas", "twnas_kdpp", "gates_predictor"]


def _all_cells(vertices: int) -> list[tuple[np.ndarray, tuple[str, ...]]]:
    """One pruned spec per isomorphism class of the valid cells with at most ``vertices`` vertices."""
    space = nb101_module.NB101Space()
    upper = [(i, j) for i in range(vertices) for j in range(i + 1, vertices)]
    seen, cells = set(), []
    for bits in itertools.product((0, 1), repeat=len(upper)):
        matrix = np.zeros((vertices, vertices), dtype=np.int8)
        for (i, j), bit in zip(upper, bits):
            matrix[i, j] = bit
        for middle in itertools.product(nb101_module.AVAILABLE_OPS, repeat=vertices - 2):
            ops = ("input", *middle, "output")
            if not nb101_module.is_valid(matrix, ops):
                continue
            arch = space.canonicalize(space.from_cell_graph(matrix, ops))
            key = space.to_string(arch)
            if key not in seen:
                seen.add(key)
                cell = space.to_graph(arch).cells[next(iter(space.to_graph(arch).cells))]
                cells.append((np.asarray(cell.adjacency, dtype=np.int8), tuple(cell.ops)))
    return cells


@pytest.fixture(scope="module")
def small_nb101(tmp_path_factory):
    """(benchmark, its store, the file's cells) with nasbench's module_vertices set to 5 for the module."""
    monkey = pytest.MonkeyPatch()
    monkey.setattr(nb101_module, "NUM_VERTICES", VERTICES)
    monkey.setattr(nb101_module, "OP_SPOTS", VERTICES - 2)
    monkey.setattr(nb101_module.NB101Space, "max_network_nodes", VERTICES)  # encoders pad to the space's size
    from nasstages.benchmarks import Sources, fetch_store, load_benchmark

    folder = tmp_path_factory.mktemp("nb101_small")
    cells = _all_cells(VERTICES)
    official = write_official_format(folder / "nasbench_only108.tfrecord", cells)
    store = folder / "nb101.h5"
    fetch_store(Sources(benchmark="nb101", official=official), store)
    yield load_benchmark("nb101", store), store, cells
    monkey.undo()


def test_the_small_file_is_a_closed_space(small_nb101):
    bench, _, cells = small_nb101
    space = bench.space
    assert 100 < len(cells) == len(bench.archs())
    rng = np.random.default_rng(0)
    for _ in range(300):  # samples, mutants and neighbours all have a row: searches never leave the file
        arch = space.sample(rng)
        bench.row(arch)
        bench.row(space.mutate(arch, rng))
    for arch in bench.archs()[:20]:
        for neighbour in space.neighbours(arch):
            bench.row(neighbour)


@pytest.mark.parametrize("method", APPLICABLE)
def test_applicable_method_runs_on_nb101(small_nb101, tmp_path, method):
    from nasstages.search.runner import SearchJob, run_search

    bench, _, _ = small_nb101
    budget = 24
    job = SearchJob(benchmark="nb101", dataset="cifar10", method=method, seed=0, budget=budget,
                    batch_size=5 if method in ("twnas_kdpp", "gates_predictor") else 1)
    out = run_search(job, bench, tmp_path / f"{method}.csv", show_progress=False)
    log = pd.read_csv(out)
    assert len(log) == budget and log["arch"].is_unique
    for row in log.itertuples():
        arch = bench.space.from_string(row.arch)
        assert row.mean_acc == pytest.approx(bench.mean_valid(arch, "cifar10"))
    np.testing.assert_allclose(log["incumbent_observed_acc"], log["observed_acc"].cummax())


def test_arch2vec_pretrains_on_the_store_cells_and_its_searches_run(small_nb101, tmp_path):
    from nasstages.encoders.pretrain import pretrain_arch2vec
    from nasstages.encoders.store import write_embeddings
    from nasstages.search.runner import SearchJob, run_search

    bench, _, cells = small_nb101
    _, embeddings, metrics = pretrain_arch2vec(bench.space, {"epochs": 15, "prior_samples": 500}, seed=0,
                                               archs=bench.archs())
    assert metrics["cells"] == len(cells) and embeddings.archs == bench.arch_strings
    # padded cells decode to NB101 cells: training reconstructs some and prior samples are valid cells
    assert metrics["reconstruction_train"]["graph"] > 0.05 and metrics["samples_fitted"]["validity"] > 0.05
    path = tmp_path / "arch2vec.h5"
    write_embeddings(path, embeddings)
    for method in ("arch2vec_bo", "arch2vec_rl"):
        job = SearchJob(benchmark="nb101", dataset="cifar10", method=method, seed=0, budget=20,
                        params={"embeddings": str(path)})
        log = pd.read_csv(run_search(job, bench, tmp_path / f"{method}.csv", show_progress=False))
        assert len(log) == 20 and log["arch"].is_unique


def test_config_check_names_the_methods_that_do_not_apply_and_why(tmp_path):
    from nasstages.config.checks import check_config
    from nasstages.errors import ConfigError

    official = tmp_path / "nasbench_only108.tfrecord"
    official.write_bytes(b"")
    config = {"results": str(tmp_path / "results"), "benchmarks": {"nb101": {"official": str(official)}},
              "search": {"budget": 10, "seeds": 1, "benchmarks": {"nb101": {"datasets": ["cifar10"],
                                                                           "methods": ["rs", "anasod_bo"]}},
                         "methods": {"rs": {}, "anasod_bo": {}}}}
    with pytest.raises(ConfigError, match=r"anasod_bo.*cannot run on space 'nb101'.*per-edge operation"):
        check_config(config)
    config["search"]["benchmarks"]["nb101"]["methods"] = ["rs", "bananas", "hotnas", "twnas"]
    config["search"]["methods"] = {"rs": {}, "bananas": {}, "hotnas": {}, "twnas": {}}
    check_config(config)


def test_tagates_predictor_is_evaluated_on_every_stored_cell(small_nb101):
    from nasstages.encoders.predictor_quality import EvaluationSettings, evaluate_on_benchmark

    bench, _, cells = small_nb101
    settings = EvaluationSettings.from_params({"models": {"tagates_hinge": {"encoder": "tagates", "loss": "hinge",
                                                                          "epochs": 100, "min_steps": 100}},
                                               "proportions": [0.1], "seeds": 1})  # GATES: gates_predictor above
    result = evaluate_on_benchmark(bench, "cifar10", settings, seeds=[0], split_seed=0, device="cpu")
    assert result["cells"] == len(cells) and {row["model"] for row in result["runs"]} == {"tagates_hinge"}
    # the synthetic accuracies rise with the cell's place in the enumeration (its edges, then its ops)
    assert all(row["kendall_tau"] > 0.2 for row in result["runs"])
    assert all(np.isfinite(row["bias_free_ops"]) for row in result["runs"])
