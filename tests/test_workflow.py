"""End-to-end Snakemake runs on a tiny config in a temporary folder (real NB201 mirror data)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO
from report_browser import browser, shown_in_browser
from nasstages.distances.store import read_matrix
from nasstages.encoders.store import read_embeddings

pytestmark = pytest.mark.slow


def _config(mirror: Path, **search) -> dict:
    return {
        "results": "results",
        "seed": 0,
        "benchmarks": {"nb201": {"mirror": str(mirror), "official": None}},
        "pools": {"nb201": {"tiny": {"size": 25, "dedup": "iso"}}},
        "distances": {"nb201": {"pools": ["tiny"], "tiles": 2, "threads": 1,
                                "metrics": {"hotnn": {"eta": 0.2}, "edit": {}}}},
        "search": {
            "budget": 12,
            "seeds": 2,
            "benchmarks": {"nb201": ["cifar10-valid"]},
            "methods": {"rs": {}, "re": {"population_size": 5, "sample_size": 2}},
            **search,
        },
    }


def _snakemake(workdir: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
         "--cores", "2", *extra],
        capture_output=True, text=True, env=env, timeout=600,
    )


def _jobs_run(result: subprocess.CompletedProcess) -> dict[str, int]:
    """Rule -> number of jobs, from Snakemake's 'Job stats' table."""
    text = result.stdout + result.stderr
    counts: dict[str, int] = {}
    block = text.split("Job stats:", 1)[1] if "Job stats:" in text else ""
    for line in block.splitlines()[3:]:
        match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if not match:
            break
        if match[1] != "total":
            counts[match[1]] = int(match[2])
    return counts


def _write(workdir: Path, config: dict) -> None:
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


def test_pipeline_runs_then_reruns_only_what_changed(tmp_path, nb201_mirror):
    _write(tmp_path, _config(nb201_mirror))
    first = _snakemake(tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert _jobs_run(first) == {"benchmark_store": 1, "sample_pool": 1, "distance_tile": 6, "distance_matrix": 2,
                                "search": 2, "report": 1, "all": 1}  # one job per method, both seeds
    results = tmp_path / "results"
    log = pd.read_csv(results / "search/nb201/cifar10-valid/re/seed1.csv")
    assert len(log) == 12
    for name in ("figures/nb201_cifar10-valid.pdf", "figures/nb201_cifar10-valid.png", "tables/nb201_final.md",
                 "tables/nb201_final.tex"):
        assert (results / "report" / name).stat().st_size > 0
    assert (results / "logs/search/nb201/cifar10-valid/rs/seeds.log").exists()
    assert "2 seeds" in (results / "report/tables/nb201_final.md").read_text()

    again = _snakemake(tmp_path)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr

    html = tmp_path / "report.html"  # Snakemake's HTML report: figures and tables flagged with report()
    browsable = _snakemake(tmp_path, "--report", str(html))
    assert browsable.returncode == 0, browsable.stderr[-3000:]
    page = html.read_text()
    for shown in ("nb201_cifar10-valid.png", "nb201_cifar10-valid_time.png", "nb201_cifar10-valid_regret.png",
                  "nb201_final.md", "simulated training time", "Regret, the benchmark's optimum"):
        assert shown in page, shown
    assert page.count('"mime_type": "image/png"') == 4  # the three curves and the rank figure, embedded
    assert page.count("data:image/png") == 4
    # and a real browser renders them (CI installs Chromium and requires it; elsewhere it runs where
    # one is installed): each curve listed under "search" and drawn when opened, the table listed
    if browser() or os.environ.get("NASSTAGES_REQUIRE_BROWSER") == "1":
        curves = ["nb201_cifar10-valid.png", "nb201_cifar10-valid_time.png", "nb201_cifar10-valid_regret.png"]
        shown = shown_in_browser(html, [("search", name) for name in curves] + [("tables", "nb201_final.md")],
                                 tmp_path)
        assert all(shown[name] == {"listed": True, "drawn": True} for name in curves), shown
        assert shown["nb201_final.md"]["listed"], shown

    finished = (results / "search/nb201/cifar10-valid/rs/seed0.csv").read_bytes()
    _write(tmp_path, _config(nb201_mirror, seeds=3))
    more = _snakemake(tmp_path)
    assert more.returncode == 0, more.stderr[-3000:]
    assert _jobs_run(more) == {"search": 2, "report": 1, "all": 1}
    assert (results / "search/nb201/cifar10-valid/re/seed2.csv").exists()
    # the rerun job kept its finished seeds, not recomputed (Snakemake touches them: a new mtime)
    assert (results / "search/nb201/cifar10-valid/rs/seed0.csv").read_bytes() == finished
    assert "kept results/search/nb201/cifar10-valid/rs/seed0.csv" in (
        results / "logs/search/nb201/cifar10-valid/rs/seeds.log").read_text()
    assert "3 seeds" in (results / "report/tables/nb201_final.md").read_text()

    untouched = (results / "search/nb201/cifar10-valid/rs/seed0.csv").stat().st_mtime_ns
    provenance = (results / "report/tables/provenance.md").read_text()
    assert "search nb201/cifar10-valid/rs" in provenance and "| 3 |" in provenance

    config = _config(nb201_mirror, seeds=3)
    config["search"]["benchmarks"]["nb201"].append("cifar100")
    _write(tmp_path, config)
    added = _snakemake(tmp_path)
    assert added.returncode == 0, added.stderr[-3000:]
    assert _jobs_run(added) == {"search": 2, "report": 1, "all": 1}  # only the new dataset's runs
    assert (results / "search/nb201/cifar10-valid/rs/seed0.csv").stat().st_mtime_ns == untouched

    # a cancelled or failed job loses its output (Snakemake deletes it): a plain rerun rebuilds it
    # and the report that depended on it, nothing else
    (results / "search/nb201/cifar100/rs/seed1.csv").unlink()
    rebuilt = _snakemake(tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert _jobs_run(rebuilt) == {"search": 1, "report": 1, "all": 1}

    config["search"]["methods"]["re"]["population_size"] = 6
    _write(tmp_path, config)
    changed = _snakemake(tmp_path)
    assert changed.returncode == 0, changed.stderr[-3000:]
    assert _jobs_run(changed) == {"search": 2, "report": 1, "all": 1}  # only the re jobs (2 datasets)

    matrix = results / "distances/nb201/hotnn/tiny.h5"
    assert read_matrix(matrix).distances.shape == (25, 25)
    assert not list((results / "distances/nb201/hotnn/tiles").rglob("*.h5")), "tiles are temporary"
    config["distances"]["nb201"]["metrics"]["hotnn"]["eta"] = 0.5
    _write(tmp_path, config)
    restale = _snakemake(tmp_path)
    assert restale.returncode == 0, restale.stderr[-3000:]
    assert _jobs_run(restale) == {"distance_tile": 3, "distance_matrix": 1, "all": 1}
    assert read_matrix(matrix).params["eta"] == 0.5

    # a key that changes no result (how often to checkpoint) reruns nothing
    config["search"]["checkpoint_every"] = 7
    _write(tmp_path, config)
    rerun = _snakemake(tmp_path)
    assert rerun.returncode == 0 and "Nothing to be done" in rerun.stdout + rerun.stderr, rerun.stderr[-3000:]
    # and a job that does rerun (here: forced) keeps every finished seed byte-identical: its
    # identity (config, code, packages, input contents) is unchanged, so recomputing would repeat it
    finished = {p: p.read_bytes() for p in (results / "search").rglob("*.csv")}
    forced = _snakemake(tmp_path, "--forcerun", "search")
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert {p: p.read_bytes() for p in (results / "search").rglob("*.csv")} == finished
    for log in (results / "logs/search").rglob("seeds.log"):
        text = log.read_text()
        assert text.count("kept") == 3 and "it/s" not in text, (log, text)


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda c: c["search"].update(seeds="ten"), "seeds"),
        (lambda c: c["search"].update(budgett=3), "budgett"),
        (lambda c: c["search"]["methods"].update(bananas9={}), "search.methods.bananas9"),
        (lambda c: c["search"]["methods"]["re"].update(tournament=3), "accepts: population_size, sample_size"),
        (lambda c: c["search"]["benchmarks"].update(nb201=["cifar10"]), "unknown dataset 'cifar10'"),
    ],
)
def test_bad_config_fails_before_any_job(tmp_path, nb201_mirror, mutate, expected):
    config = _config(nb201_mirror)
    mutate(config)
    _write(tmp_path, config)
    result = _snakemake(tmp_path, "--dry-run")
    assert result.returncode != 0
    assert expected in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_missing_benchmark_fails_with_the_fix(tmp_path):
    _write(tmp_path, _config(tmp_path / "no-mirror-here"))
    result = _snakemake(tmp_path)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "benchmarks.nb201.mirror" in output and "NATS-tss" in output
    assert not (tmp_path / "results/benchmarks/nb201.h5").exists()


def _encoder_config(mirror: Path) -> dict:
    config = _config(mirror)
    config["distances"]["nb201"]["metrics"] = {"arch2vec": {}, "edit": {}}
    config["encoders"] = {"nb201": {
        "arch2vec": {"hidden": 16, "latent": 4, "layers": 2, "epochs": 1, "prior_samples": 200},
        "quality": {"benchmark": "nb201", "dataset": "cifar10-valid", "walks": 10, "steps": 4, "gp_train": 30,
                    "gp_seeds": 1}}}
    config["predictors"] = {"nb201": {"datasets": ["cifar10-valid"], "proportions": [0.001], "seeds": 1,
                                      "models": {"gates_hinge": {"epochs": 2, "min_steps": 5, "hidden": 16}}}}
    config["search"]["methods"] = {"rs": {}, "arch2vec_bo": {"n_init": 4, "batch_size": 4, "epochs": 20},
                                   "arch2vec_rl": {}, "gates_predictor": {"n_init": 4, "batch_size": 4, "epochs": 2,
                                                                          "min_steps": 5, "hidden": 16}}
    config["search"]["seeds"] = 1
    return config


def test_encoder_stages_run_and_rerun_when_the_encoder_changes(tmp_path, nb201_mirror):
    config = _encoder_config(nb201_mirror)
    _write(tmp_path, config)
    first = _snakemake(tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert _jobs_run(first) == {"benchmark_store": 1, "sample_pool": 1, "distance_tile": 6, "distance_matrix": 2,
                                "pretrain_arch2vec": 1, "encoder_quality": 1, "predictor_quality": 1, "search": 4,
                                "report": 1, "all": 1}
    results = tmp_path / "results"
    embeddings = read_embeddings(results / "encoders/nb201/arch2vec.h5")
    assert embeddings.vectors.shape == (15625, 4)
    for method in ("arch2vec_bo", "arch2vec_rl", "gates_predictor"):
        log = pd.read_csv(results / f"search/nb201/cifar10-valid/{method}/seed0.csv")
        assert len(log) == 12 and log["arch"].is_unique
    encoders_table = (results / "report/tables/encoders.md").read_text()
    assert "arch2vec" in encoders_table and "79.41" in encoders_table and "GP Pearson r" in encoders_table
    predictors_table = (results / "report/tables/predictors.md").read_text()
    assert "gates_hinge" in predictors_table and "0.4309" in predictors_table
    matrix = read_matrix(results / "distances/nb201/arch2vec/tiny.h5")
    rows = embeddings.rows(matrix.archs)
    direct = np.linalg.norm(embeddings.vectors[rows][:, None] - embeddings.vectors[rows][None], axis=-1)
    np.testing.assert_allclose(matrix.distances, direct, rtol=1e-5, atol=1e-6)

    rs_log = results / "search/nb201/cifar10-valid/rs/seed0.csv"
    untouched = rs_log.stat().st_mtime_ns
    config["encoders"]["nb201"]["arch2vec"]["latent"] = 6
    _write(tmp_path, config)
    changed = _snakemake(tmp_path)
    assert changed.returncode == 0, changed.stderr[-3000:]
    assert _jobs_run(changed) == {"pretrain_arch2vec": 1, "encoder_quality": 1, "distance_tile": 3,
                                  "distance_matrix": 1, "search": 2, "report": 1, "all": 1}
    assert rs_log.stat().st_mtime_ns == untouched
    assert read_embeddings(results / "encoders/nb201/arch2vec.h5").vectors.shape == (15625, 6)


def test_encoder_method_without_its_encoder_fails_before_any_job(tmp_path, nb201_mirror):
    config = _encoder_config(nb201_mirror)
    del config["encoders"]
    config["distances"]["nb201"]["metrics"] = {"edit": {}}
    _write(tmp_path, config)
    result = _snakemake(tmp_path, "--dry-run")
    assert result.returncode != 0
    assert "needs encoders.nb201.arch2vec" in result.stdout + result.stderr


def test_unwritable_results_folder_fails_before_any_job(tmp_path, nb201_mirror):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the results folder should be")
    config = _config(nb201_mirror)
    config["results"] = str(blocker / "results")
    _write(tmp_path, config)
    result = _snakemake(tmp_path, "--dry-run")
    assert result.returncode != 0
    assert "cannot write to" in result.stdout + result.stderr and "set 'results'" in result.stdout + result.stderr


def test_corrupt_store_fails_before_any_job_and_keeps_finished_results(tmp_path, nb201_mirror):
    config = _config(nb201_mirror)
    del config["pools"], config["distances"]
    _write(tmp_path, config)
    assert _snakemake(tmp_path).returncode == 0
    results = tmp_path / "results"
    finished = {p: p.read_bytes() for p in (results / "search").rglob("*.csv")}
    store = results / "benchmarks/nb201.h5"
    data = bytearray(store.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = bytes(64)  # damage the middle of the file
    store.write_bytes(bytes(data))
    _write(tmp_path, _config(nb201_mirror, seeds=3) | {"pools": {}, "distances": {}})
    result = _snakemake(tmp_path)
    assert result.returncode != 0
    text = result.stdout + result.stderr
    assert "nb201.h5" in text and "delete" in text.lower() and "no result was touched" in text
    assert {p: p.read_bytes() for p in (results / "search").rglob("*.csv")} == finished


def test_tnb101_pipeline_reports_errors_per_task(tmp_path, nb201_mirror):
    tnb = nb201_mirror.parent / "tnb101"
    config = {
        "results": "results", "seed": 0,
        "benchmarks": {"tnb101_macro": {"mirror": str(tnb), "official": None},
                       "tnb101_micro": {"mirror": str(tnb), "official": None}},
        "search": {"budget": 12, "seeds": 2, "methods": {"rs": {}, "hotnas": {"n_init": 5}},
                   "benchmarks": {"tnb101_macro": ["jigsaw", "autoencoder"],
                                  "tnb101_micro": {"datasets": ["jigsaw"], "methods": ["rs"], "budget": 8}}},
    }
    _write(tmp_path, config)
    result = _snakemake(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _jobs_run(result) == {"benchmark_store": 2, "search": 5, "report": 1, "all": 1}  # 2 seeds per job
    results = tmp_path / "results"
    assert len(pd.read_csv(results / "search/tnb101_micro/jigsaw/rs/seed1.csv")) == 8
    table = (results / "report/tables/tnb101_macro_errors.md").read_text()
    header = table.splitlines()[0]
    assert header.startswith("| Task |") and "Random search" in header and "HOTNAS" in header
    assert "| Jigsaw |" in table and "| Autoenc. |" in table
    assert "mIoU is not available offline" in table
    assert (results / "report/figures/tnb101_macro_autoencoder.png").stat().st_size > 0
    assert not (results / "report/tables/tnb101_macro_final.md").exists()


def test_bo_reads_the_precomputed_matrix_of_a_distance_pool(tmp_path, nb201_mirror):
    tnb = nb201_mirror.parent / "tnb101"
    config = {
        "results": "results", "seed": 0,
        "benchmarks": {"tnb101_macro": {"mirror": str(tnb), "official": None}},
        "pools": {"tnb101_macro": {"p": {"size": 60, "dedup": "arch"}}},
        "distances": {"tnb101_macro": {"pools": ["p"], "tiles": 1, "threads": 1, "metrics": {"hotnn": {}}}},
        "search": {"budget": 12, "seeds": 1, "benchmarks": {"tnb101_macro": ["jigsaw"]},
                   "methods": {"hotnas": {"n_init": 4, "distance_pool": "p"}}},
    }
    _write(tmp_path, config)
    result = _snakemake(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _jobs_run(result) == {"benchmark_store": 1, "sample_pool": 1, "distance_tile": 1, "distance_matrix": 1,
                                 "search": 1, "report": 1, "all": 1}
    results = tmp_path / "results"
    pool = set(read_matrix(results / "distances/tnb101_macro/hotnn/p.h5").archs)
    log = pd.read_csv(results / "search/tnb101_macro/jigsaw/hotnas/seed0.csv")
    assert set(log["arch"]) <= pool and log["arch"].is_unique  # candidates are the pool's networks

    del config["distances"]["tnb101_macro"]["metrics"]["hotnn"]
    config["distances"]["tnb101_macro"]["metrics"]["edit"] = {}
    _write(tmp_path, config)
    refused = _snakemake(tmp_path, "--dry-run")
    assert refused.returncode != 0 and "add pool 'p' to distances.tnb101_macro.pools and 'hotnn'" in (
        refused.stdout + refused.stderr)


def test_a_results_path_with_a_space_and_a_quote_works(tmp_path, nb201_mirror):
    """Every path in a rule's shell is quoted: a space or a quote in `results` neither breaks a job
    nor reaches the shell as syntax."""
    config = _config(nb201_mirror, budget=5, seeds=1)
    del config["pools"], config["distances"]
    config["results"] = "my results/it's"
    _write(tmp_path, config)
    result = _snakemake(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    results = tmp_path / "my results" / "it's"
    assert len(pd.read_csv(results / "search/nb201/cifar10-valid/re/seed0.csv")) == 5
    assert (results / "report/tables/nb201_final.md").stat().st_size > 0
    assert not (tmp_path / "my").exists()  # nothing written to a path split at the space
