"""The DARTS space, its network builder and the resumable CIFAR trainer, on tiny generated data in
the exact CIFAR python-archive format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nasstages.distances import DISTANCES
from nasstages.errors import ConfigError, CorruptStoreError
from nasstages.evaluators.cifar import DataError, load_cifar, write_cifar_archive
from nasstages.evaluators.data_store import read_data_store, write_data_store
from nasstages.evaluators.model import DartsNetwork, count_parameters
from nasstages.evaluators.train import Protocol, Trainer
from nasstages.spaces import get_space
from nasstages.spaces.darts import DARTS_OPS, DartsSpace, check_cell

# DARTS-V2 as printed in the DARTS repository's genotypes.py
DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
            "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
            "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
            "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
            "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")
TINY = {"epochs": 2, "channels": 4, "layers": 3, "batch_size": 16, "auxiliary": 0.4, "drop_path": 0.2,
        "cutout": 8, "valid_size": 32, "eval_test": True}


def tiny_cifar(n_train: int = 96, n_test: int = 32, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Images whose mean colour depends on the label (learnable in a few steps), CIFAR shapes."""
    rng = np.random.default_rng(seed)

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 10, n)
        base = (labels[:, None, None, None] * 25).astype(np.float64)
        images = np.clip(base + rng.normal(0, 20, (n, 3, 32, 32)), 0, 255).astype(np.uint8)
        return images, labels

    return (*make(n_train), *make(n_test))


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny networks train fastest on one thread (two threads on a loaded 2-core machine stall);
    set before each test, as numba's OpenMP layer (HOTNN) resets the shared thread count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_archive(tmp_path_factory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("cifar")
    md5 = write_cifar_archive(folder / "cifar-10-python.tar.gz", "cifar10", *tiny_cifar())
    return folder, md5


@pytest.fixture(scope="module")
def tiny_data(tiny_archive):
    folder, md5 = tiny_archive
    return load_cifar("cifar10", folder, md5)


# -- space --------------------------------------------------------------------------------------

def test_genotype_strings_round_trip_and_accept_range_concat():
    space = DartsSpace()
    arch = space.from_string(DARTS_V2)
    assert space.to_string(arch) == DARTS_V2
    assert space.from_string(DARTS_V2.replace("[2, 3, 4, 5]", "range(2, 6)")) == arch
    rng = np.random.default_rng(0)
    for _ in range(200):
        sample = space.sample(rng)
        assert space.from_string(space.to_string(sample)) == sample


@pytest.mark.parametrize("bad, message", [
    ("Genotype(normal=[])", "missing reduce"),
    (DARTS_V2.replace("'sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0)",
                      "'sep_conv_3x3', 0), ('sep_conv_3x3', 0), ('sep_conv_3x3', 0)", 1), "twice"),
    (DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5)"), "not an earlier state"),
    (DARTS_V2.replace("dil_conv_3x3", "conv_7x7"), "unknown op 'conv_7x7'"),
    ("normal=[('sep_conv_3x3', 0)]", "expected Genotype("),
    (DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 3]"), "normal_concat must be"),
])
def test_invalid_genotypes_are_rejected_with_the_reason(bad, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        DartsSpace().from_string(bad)


def test_iso_hash_ignores_input_order_and_node_relabelling_but_not_real_changes():
    space = DartsSpace()
    arch = space.from_string(DARTS_V2)
    normal, reduce = arch
    swapped = (normal[1], normal[0]) + normal[2:]  # node 2's two inputs in the other order
    assert space.iso_hash((swapped, reduce)) == space.iso_hash(arch)
    # nodes 2 and 3 both read only the cell inputs; exchanging them (and renaming their uses) is the same cell
    cell = (("sep_conv_3x3", 0), ("max_pool_3x3", 1), ("dil_conv_5x5", 0), ("skip_connect", 1),
            ("avg_pool_3x3", 2), ("sep_conv_5x5", 3), ("sep_conv_3x3", 2), ("dil_conv_3x3", 4))
    relabelled = (("dil_conv_5x5", 0), ("skip_connect", 1), ("sep_conv_3x3", 0), ("max_pool_3x3", 1),
                  ("avg_pool_3x3", 3), ("sep_conv_5x5", 2), ("sep_conv_3x3", 3), ("dil_conv_3x3", 4))
    assert space.iso_hash((cell, reduce)) == space.iso_hash((relabelled, reduce))
    assert space.iso_hash((cell, reduce)) != space.iso_hash((reduce, cell))
    op_changes = [n for n in space.neighbours(arch) if sorted(op for c in n for op, _ in c) != sorted(
        op for c in arch for op, _ in c)]
    assert op_changes and all(space.iso_hash(n) != space.iso_hash(arch) for n in op_changes)


def test_every_mutation_stays_valid_and_changes_one_edge():
    space = DartsSpace()
    rng = np.random.default_rng(1)
    for _ in range(50):
        arch = space.sample(rng)
        options = space.neighbours(arch)
        assert len(options) == len(set(options))
        for neighbour in options:
            for cell in neighbour:
                check_cell(cell)
            changed = sum(a != b for old, new in zip(arch, neighbour) for a, b in zip(old, new))
            assert changed == 1
        assert space.mutate(arch, rng) in options


def test_skeleton_has_reductions_at_thirds_and_hotnn_matches_cell_types():
    space = DartsSpace(layers=20)
    skeleton = space.to_graph(space.from_string(DARTS_V2)).skeleton
    assert [k for k, name in enumerate(skeleton) if name == "reduce"] == [6, 13]
    small = DartsSpace(layers=5)
    rng = np.random.default_rng(2)
    a, b = small.sample(rng), small.sample(rng)
    hotnn = DISTANCES.get("hotnn")(small)
    d = hotnn.pairwise([a, b, (a[0], b[1])], [a, b, (a[0], b[1])])
    assert d[0, 0] == pytest.approx(0.0, abs=1e-9) and d[0, 1] > 0 and np.allclose(d, d.T, atol=1e-9)
    # only the reduction cells differ between a and (a.normal, b.reduce): their distance is below a-b's
    assert 0 < d[0, 2] < d[0, 1]
    for metric in ("otmann", "edit"):
        m = DISTANCES.get(metric)(small).pairwise([a, b], [a, b])
        assert m[0, 0] == pytest.approx(0.0, abs=1e-9) and m[0, 1] > 0


# -- network and trainer ------------------------------------------------------------------------

def test_darts_v2_at_36_channels_and_20_cells_has_the_published_3_3m_parameters():
    model = DartsNetwork(DartsSpace().from_string(DARTS_V2), channels=36, layers=20, num_classes=10, auxiliary=True)
    assert 3.25e6 < count_parameters(model) < 3.40e6  # DARTS reports 3.3 M (3.349 M in its code)


def test_one_training_step_decreases_the_loss(tiny_data):
    torch.manual_seed(0)
    arch = DartsSpace().sample(np.random.default_rng(3))
    model = DartsNetwork(arch, channels=4, layers=3, num_classes=10, auxiliary=False)
    x = (torch.from_numpy(tiny_data.train_x[:32]).float() - 128) / 64
    y = torch.from_numpy(tiny_data.train_y[:32])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    loss = torch.nn.functional.cross_entropy(model(x)[0], y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    with torch.no_grad():  # the same batch, same (training-mode) normalization, after one step
        after = torch.nn.functional.cross_entropy(model(x)[0], y)
    assert float(after) < float(loss.detach())


def test_resumed_training_equals_the_uninterrupted_run(tiny_data, tmp_path):
    arch = DartsSpace().from_string(DARTS_V2)
    protocol = Protocol.from_params({**TINY, "epochs": 3})
    reference = Trainer(arch, tiny_data, protocol, seed=5).run()
    checkpoint = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        Trainer(arch, tiny_data, protocol, seed=5, checkpoint=checkpoint).run(stop_after_epochs=2)
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 2  # plain types and tensors only
    probe = Trainer(arch, tiny_data, protocol, seed=5, checkpoint=checkpoint)
    assert probe.try_resume() and probe.epoch == 2  # resumed (not silently retrained from epoch 0)
    resumed = Trainer(arch, tiny_data, protocol, seed=5, checkpoint=checkpoint)
    result = resumed.run()
    assert [h["loss"] for h in result.history] == [h["loss"] for h in reference.history]
    assert (result.valid_acc, result.test_acc, result.params) == (reference.valid_acc, reference.test_acc,
                                                                  reference.params)
    other_seed = Trainer(arch, tiny_data, protocol, seed=6).run()
    assert [h["loss"] for h in other_seed.history] != [h["loss"] for h in reference.history]


def test_protocol_rejects_unknown_settings():
    with pytest.raises(ConfigError, match="unknown training setting.*epoch_count"):
        Protocol.from_params({"epoch_count": 3})


# -- data -----------------------------------------------------------------------------------------

def test_archive_reader_checks_md5_and_names_the_fix(tiny_archive, tmp_path):
    folder, md5 = tiny_archive
    data = load_cifar("cifar10", folder, md5)
    assert data.train_x.shape == (96, 3, 32, 32) and data.test_y.shape == (32,) and data.md5 == md5
    with pytest.raises(DataError, match="expected c58f30108f718f92721af3b95e74349a.*download it again"):
        load_cifar("cifar10", folder)  # a tiny archive is not the published CIFAR-10
    corrupt = tmp_path / "cifar-10-python.tar.gz"
    blob = bytearray((folder / "cifar-10-python.tar.gz").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    corrupt.write_bytes(bytes(blob))
    with pytest.raises(DataError, match="corrupt or partial"):
        load_cifar("cifar10", tmp_path, md5)
    with pytest.raises(DataError, match="cifar-100-python.tar.gz.*benchmarks.darts.data"):
        load_cifar("cifar100", tmp_path / "nowhere")


def test_data_store_round_trip_and_corruption(tiny_data, tmp_path):
    path = tmp_path / "darts.h5"
    write_data_store(path, [tiny_data], {"test": True})
    data, sha = read_data_store(path)
    assert np.array_equal(data["cifar10"].train_x, tiny_data.train_x) and len(sha) == 64
    import h5py

    with h5py.File(path, "r+") as f:
        f["datasets/cifar10/train_y"][0] = (f["datasets/cifar10/train_y"][0] + 1) % 10
    with pytest.raises(CorruptStoreError, match="checksum.*rerun the benchmark stage"):
        read_data_store(path)


def test_space_is_registered_and_ops_are_the_darts_set():
    assert get_space("darts").layers == 8
    assert set(DARTS_OPS) == {"max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
                              "dil_conv_3x3", "dil_conv_5x5"}


def _darts_config(tmp_path, **darts) -> dict:
    return {"results": str(tmp_path / "results"), "seed": 0,
            "benchmarks": {"darts": {"data": str(tmp_path), **darts}},
            "search": {"budget": 3, "seeds": 1, "benchmarks": {"darts": ["cifar10"]}, "methods": {"rs": {}}}}


@pytest.mark.parametrize("change, message", [
    ({"search": {"epoch": 3}}, "benchmarks.darts.search: unknown training setting"),
    ({"search": {"valid_size": 0}}, "set valid_size > 0"),
    ({"final": {"drop_path": 1.5}}, "drop_path must be in"),
    ({"mirror": "x"}, "not mirror/official"),
    ({"noise": "mean"}, "use noise: sample"),
    ({"datasets": ["imagenet"]}, "unknown dataset 'imagenet' of darts"),
    ({"archive": None}, "no cifar10 archive"),
])
def test_config_check_rejects_bad_darts_settings_naming_the_fix(tmp_path, tiny_archive, change, message):
    from nasstages.config import check_config

    folder, _ = tiny_archive
    config = _darts_config(folder)
    change = dict(change)
    if "noise" in change:
        config["search"]["noise"] = change.pop("noise")
    if "datasets" in change:
        config["search"]["benchmarks"]["darts"] = change.pop("datasets")
    if "archive" in change:
        change.pop("archive")
        config["benchmarks"]["darts"]["data"] = str(tmp_path / "empty")
    config["benchmarks"]["darts"].update(change)
    config["results"] = str(tmp_path / "results")
    with pytest.raises(ConfigError, match=message):
        check_config(config)
    check_config({**_darts_config(folder), "results": str(tmp_path / "results")})  # the unchanged config passes
