"""TransNAS-Bench-101 on the real mirror: spaces, store and error convention, HOTNN's network
level on macro skeletons (POT as the oracle), and applicability checks."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from conftest import SHARED
from nasstages.benchmarks.store import write_store
from nasstages.benchmarks.tnb101 import TNB101MacroBenchmark, TNB101MicroBenchmark, load_sources
from nasstages.config import check_config
from nasstages.distances import make_distance
from nasstages.distances.hotnn import network_emd_reference
from nasstages.errors import BenchmarkSourceError, ConfigError
from nasstages.spaces import get_space
from nasstages.spaces.nb201 import canonical_form
from nasstages.spaces.tnb101 import is_valid_macro

MIRROR = SHARED / "benchmarks" / "tnb101"
MICRO, MACRO = get_space("tnb101_micro"), get_space("tnb101_macro")


@pytest.fixture(scope="module")
def mirror_rows() -> pd.DataFrame:
    path = MIRROR / "tnb101_final_valid.csv.gz"
    if not path.is_file():
        pytest.fail(f"the TransNAS-Bench-101 mirror is missing at {path}")
    return pd.read_csv(path)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tnb")
    out = {}
    for name, cls in (("tnb101_micro", TNB101MicroBenchmark), ("tnb101_macro", TNB101MacroBenchmark)):
        write_store(folder / f"{name}.h5", load_sources(name, MIRROR, None))
        out[name] = cls(folder / f"{name}.h5")
    return out


def test_every_mirror_string_parses_and_round_trips(mirror_rows):
    micro = mirror_rows[mirror_rows["space"] == "micro"]["arch_str"].tolist()
    macro = mirror_rows[mirror_rows["space"] == "macro"]["arch_str"].tolist()
    assert len(micro) == 4096 and len(macro) == 3256
    assert [MICRO.to_string(MICRO.from_string(s)) for s in micro] == micro
    assert [MACRO.to_string(MACRO.from_string(s)) for s in macro] == macro
    assert sorted(macro) == [MACRO.to_string(a) for a in MACRO.enumerate()]  # the valid set, exactly
    assert [MICRO.to_index(MICRO.from_string(s)) for s in micro] == list(range(4096))
    for bad, why in (("64-41414-4_00_000", "digits 0"), ("64-1111-basic", "downsampling"),
                     ("64-3333333-basic", "4 to 6"), ("64-24444-basic", "channel-doubling")):
        space = MICRO if "41414" in bad else MACRO
        with pytest.raises(ValueError, match=why):
            space.from_string(bad)


def test_the_169_cells_without_a_path_are_one_class():
    dead = [a for a in MICRO.enumerate() if canonical_form(a) == "0"]
    assert len(dead) == 169
    assert len({MICRO.iso_hash(a) for a in dead}) == 1
    assert all(MICRO.canonicalize(a) == ("none",) * 6 for a in dead)


def test_every_macro_mutation_stays_valid():
    rng = np.random.default_rng(0)
    valid = {MACRO.to_string(a) for a in MACRO.enumerate()}
    kinds = set()
    for arch in MACRO.enumerate():
        for n in MACRO.neighbours(arch):
            assert is_valid_macro(n) and MACRO.to_string(n) in valid and n != arch
            kinds.add(len(n) - len(arch))
        assert is_valid_macro(MACRO.mutate(arch, rng))
    assert kinds == {-1, 0, 1}  # deletions, changes and insertions all occur


def test_store_follows_the_error_convention(stores, mirror_rows):
    bench = stores["tnb101_macro"]
    row = mirror_rows[mirror_rows["arch_str"] == "64-41414-basic"].iloc[0]
    arch = MACRO.from_string("64-41414-basic")
    rng = np.random.default_rng(0)
    expected_error = {
        "class_scene": 100 - row["class_scene_valid_top1"], "jigsaw": 100 - row["jigsaw_valid_top1"],
        "room_layout": -100 * row["room_layout_valid_neg_loss"],
        "segmentsemantic": 100 - row["segmentsemantic_valid_acc"],
        "normal": 100 * (1 - row["normal_valid_ssim"]), "autoencoder": 100 * (1 - row["autoencoder_valid_ssim"]),
    }
    for task, error in expected_error.items():
        first = bench.query(arch, task, rng).valid_acc
        assert 100 - first == pytest.approx(error)
        assert bench.query(arch, task, rng).valid_acc == first == bench.mean_valid(arch, task)  # deterministic
    assert 100 - stores["tnb101_micro"].optimum("class_scene") == pytest.approx(100 - 54.94, abs=0.01)


def test_random_search_on_macro_matches_our_reference_simulation(stores):
    """RS, 100 queries, 500 repeats: the issue's reference values (same error convention)."""
    reference = {"autoencoder": 30.05, "class_object": 53.38, "class_scene": 43.44, "jigsaw": 3.28,
                 "normal": 39.37, "room_layout": 60.43}
    bench = stores["tnb101_macro"]
    rng = np.random.default_rng(0)
    for task, value in reference.items():
        errors = 100 - bench.mean_valid_all(task)
        best = [errors[rng.choice(len(errors), 100, replace=False)].min() for _ in range(500)]
        assert np.mean(best) == pytest.approx(value, abs=0.35), task


def test_macro_hotnn_matches_pot_per_pair():
    rng = np.random.default_rng(1)
    archs = [MACRO.sample(rng) for _ in range(40)]
    hotnn = make_distance("hotnn", MACRO, {"eta": 0.3})
    matrix = hotnn.pairwise(archs)
    types = [f"module{m}" for m in (1, 2, 3, 4)]
    graphs = {name: cell for a in MACRO.enumerate() for name, cell in MACRO.to_graph(a).cells.items()}
    cell_d = hotnn.cell_distances([graphs[t] for t in types], None, types, None)
    slot = {t: k for k, t in enumerate(types)}
    differ = 0
    for i in range(len(archs)):
        for j in range(i + 1, len(archs)):
            sa = np.array([slot[n] for n in MACRO.to_graph(archs[i]).skeleton])
            sb = np.array([slot[n] for n in MACRO.to_graph(archs[j]).skeleton])
            assert matrix[i, j] == pytest.approx(network_emd_reference(cell_d, sa, sb, 0.3), abs=1e-9)
            differ += len(sa) != len(sb)
    assert differ > 100  # networks of different lengths were compared
    assert np.all(matrix[~np.eye(len(archs), dtype=bool)] >= 0)


def test_micro_hotnn_is_the_cell_level_distance():
    rng = np.random.default_rng(2)
    archs = [MICRO.sample(rng) for _ in range(30)]
    hotnn = make_distance("hotnn", MICRO, {"eta": 0.2})
    cells = [MICRO.to_graph(MICRO.canonicalize(a)).cells["cell"] for a in archs]
    keys = [repr(MICRO.canonicalize(a)) for a in archs]
    cell_level = hotnn.cell_distances(cells, None, keys, None)
    np.fill_diagonal(cell_level, 0.0)
    np.testing.assert_allclose(hotnn.pairwise(archs), 0.8 * cell_level, atol=1e-12)


@pytest.mark.parametrize("metric", ["otmann", "edit"])
def test_network_level_metrics_see_module_order(metric):
    a, b = MACRO.from_string("64-1234-basic"), MACRO.from_string("64-4321-basic")
    d = make_distance(metric, MACRO).pairwise([a, b, a])
    assert d[0, 1] > 0 and d[0, 2] == 0 and np.allclose(d, d.T)


def _config(space: str, **search) -> dict:
    return {"results": "results", "seed": 0,
            "benchmarks": {space: {"mirror": str(MIRROR), "official": None}},
            "search": {"budget": 10, "seeds": 1, "benchmarks": {space: ["jigsaw"]},
                       "methods": {"rs": {}, **search}}}


@pytest.mark.parametrize("method, reason", [("bananas", "path encoding"), ("anasod_bo", "operation counts"),
                                            ("twnas", "tree encoding"), ("arch2vec_rl", "fixed-size cell")])
def test_inapplicable_methods_are_rejected_with_the_reason(method, reason):
    with pytest.raises(ConfigError, match=reason):
        check_config(_config("tnb101_macro", **{method: {}}))
    check_config(_config("tnb101_macro", hotnas={}, nasbot={}, bo_edit={}))  # the applicable ones pass


def test_missing_mirror_names_the_fix(tmp_path):
    with pytest.raises(BenchmarkSourceError, match="tnb101_final_valid.csv.gz"):
        load_sources("tnb101_macro", tmp_path, None)
    broken = tmp_path / "tnb101_final_valid.csv.gz"
    with gzip.open(broken, "wt") as f:
        f.write("space,arch_str\nmacro,64-1234-basic\n")
    with pytest.raises(BenchmarkSourceError, match="expected each of the 3256"):
        load_sources("tnb101_macro", tmp_path, None)
