"""Report: figures exist and tables carry mean +- standard error computed from the search logs."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from nasstages.errors import NasstagesError
from nasstages.report import write_report
from nasstages.search.runner import SearchJob, run_search

DATASETS = ("cifar10-valid", "ImageNet16-120")


@pytest.fixture(scope="module")
def search_logs(nb201_bench, tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    paths = []
    for dataset in DATASETS:
        for method in ("rs", "re"):
            for seed in range(4):
                job = SearchJob(benchmark="nb201", dataset=dataset, method=method, seed=seed, budget=30,
                                params={"population_size": 10, "sample_size": 3} if method == "re" else {})
                out = root / "search" / "nb201" / dataset / method / f"seed{seed}.csv"
                run_search(job, nb201_bench, out, show_progress=False)
                paths.append(out)
    return root, paths


def test_report_writes_figures_and_tables(search_logs):
    root, paths = search_logs
    written = write_report(paths, root / "report")
    names = sorted(p.name for p in written)
    assert names == sorted([f"nb201_{d}{kind}.{e}" for d in DATASETS for kind in ("", "_time", "_regret")
                            for e in ("pdf", "png")]
                           + ["nb201_final.md", "nb201_final.tex", "nb201_cost.md", "provenance.md",
                              "nb201_rank.pdf", "nb201_rank.png", "runs.csv.gz"])  # 2 methods: ranks, no CD diagram
    for path in written:
        assert path.stat().st_size > 200
    assert (root / "report" / "figures" / "nb201_cifar10-valid.png").read_bytes()[:4] == b"\x89PNG"
    provenance = (root / "report" / "tables" / "provenance.md").read_text()
    from nasstages.provenance import git_commit

    assert "| search nb201/cifar10-valid/rs | 4 |" in provenance  # 4 seeds, one commit
    assert git_commit()[:12] in provenance


def test_table_values_are_mean_and_standard_error(search_logs, nb201_bench):
    root, paths = search_logs
    write_report(paths, root / "report")
    markdown = (root / "report" / "tables" / "nb201_final.md").read_text()
    rows = {line.split("|")[1].strip(): [c.strip().strip("*") for c in line.split("|")[2:-1]]
            for line in markdown.splitlines() if line.startswith("| ") and "---" not in line}
    assert rows["Method"] == ["CIFAR-10", "ImageNet16-120"]
    for method, label in (("rs", "Random search"), ("re", "Regularized evolution")):
        for column, dataset in enumerate(DATASETS):
            finals = np.array([pd.read_csv(p)["incumbent_mean_acc"].iloc[-1] for p in paths
                               if f"/{dataset}/{method}/" in p.as_posix()])
            assert len(finals) == 4
            expected = f"{finals.mean():.2f} ± {finals.std(ddof=1) / 2:.2f}"
            assert rows[label][column] == expected
    assert rows["Optimum"] == [f"{nb201_bench.optimum(d):.2f}" for d in DATASETS]
    # bold: the best mean and whatever a two-sided Mann-Whitney U test (Holm; one comparison here) cannot
    # tell from it at 0.05, computed again from the logs
    from scipy.stats import mannwhitneyu

    expected_bold = 0
    for dataset in DATASETS:
        finals = {m: np.array([pd.read_csv(p)["incumbent_mean_acc"].iloc[-1] for p in paths
                               if f"/{dataset}/{m}/" in p.as_posix()]) for m in ("rs", "re")}
        best, other = sorted(finals, key=lambda m: finals[m].mean(), reverse=True)
        expected_bold += 1 + (mannwhitneyu(finals[other], finals[best]).pvalue > 0.05)
    assert len(re.findall(r"\*\*(.+?)\*\*", markdown)) == expected_bold
    assert "Mann–Whitney U" in markdown and "Holm" in markdown
    latex = (root / "report" / "tables" / "nb201_final.tex").read_text()
    assert "\\toprule" in latex and "$\\pm$" in latex and latex.count("\\textbf") == expected_bold


def test_report_rejects_unreadable_logs(tmp_path):
    bad = tmp_path / "nb201" / "cifar100" / "rs" / "seed0.csv"
    bad.parent.mkdir(parents=True)
    bad.write_text("step,arch\n")
    with pytest.raises(NasstagesError, match="rerun its search job"):
        write_report([bad], tmp_path / "report")
    with pytest.raises(NasstagesError, match="not a search log"):
        write_report([tmp_path / "whatever.csv"], tmp_path / "report")


def test_cost_table_reports_seconds_and_surrogate_share(search_logs):
    root, paths = search_logs
    write_report(paths, root / "report")
    cost = (root / "report" / "tables" / "nb201_cost.md").read_text()
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in cost.splitlines() if line.startswith("| ") and "---" not in line}
    elapsed = np.mean([pd.read_csv(p)["elapsed_s"].iloc[-1] for p in paths if "/rs/" in p.as_posix()])
    assert rows["Random search"][0] == f"{elapsed:.2f}"
    assert rows["Random search"][2] == "0%" and rows["Regularized evolution"][2] == "0%"


def test_captions_state_the_query_rule_and_refuse_mixed_rules(search_logs, nb201_bench, tmp_path):
    import json
    import shutil

    root, paths = search_logs
    write_report(paths, tmp_path / "report")
    table = (tmp_path / "report" / "tables" / "nb201_final.md").read_text()
    assert "query rule, 'string': no query on a cell string already queried" in table
    # one method's seeds rerun under another rule: the table must refuse to mix them
    mixed = tmp_path / "mixed"
    shutil.copytree(root / "search", mixed / "search")
    other = mixed / "search" / "nb201" / "cifar10-valid" / "rs" / "seed0.csv"
    run_search(SearchJob("nb201", "cifar10-valid", "rs", 0, 30, query_rule="none"), nb201_bench, other,
               show_progress=False)
    assert json.loads(other.with_suffix(".json").read_text())["protocol"]["query_rule"] == "none"
    with pytest.raises(NasstagesError, match="query rules"):
        write_report(sorted((mixed / "search").rglob("seed*.csv")), tmp_path / "mixed_report")


def test_reproduction_table_puts_published_numbers_beside_ours():
    from nasstages.report.reproduction import PUBLISHED, reproduction_markdown, reproduction_rows
    from nasstages.report.trajectories import MethodRuns

    published = PUBLISHED[("tnb101_macro", "normal", "hotnas")][0]
    errors = np.array([published + 1.0, published + 1.2, published + 0.8, published + 1.0])  # SE = 0.0816
    run = MethodRuns("tnb101_macro", "normal", "hotnas", [0, 1, 2, 3], (100.0 - errors)[:, None], 100.0,
                     np.ones(4), np.zeros(4), "string")
    close = MethodRuns("tnb101_macro", "normal", "rs", [0, 1], np.array([[100 - 39.1], [100 - 39.3]]), 100.0,
                       np.ones(2), np.zeros(2), "string")
    unpublished = MethodRuns("tnb101_macro", "normal", "twnas", [0, 1], np.array([[60.0], [61.0]]), 100.0,
                             np.ones(2), np.zeros(2), "string")
    rows = reproduction_rows([run, close, unpublished])
    assert [(r.method, r.seeds) for r in rows] == [("hotnas", 4), ("rs", 2)]
    assert rows[0].gap_in_se == pytest.approx(1.0 / (np.std(errors, ddof=1) / 2))
    assert rows[0].note.startswith("ours worse by > 2 SE") and rows[1].note == "within 2 SE"
    text = reproduction_markdown(rows, [run, close])
    assert f"| {published:.2f} | {published + 1:.2f} ± 0.08 |" in text and "CVPR 2023" in text
    assert "query rule, 'string'" in text
    # a named variant sits beside the published method's number, marked as ours, never in its place
    variant = MethodRuns("tnb101_macro", "normal", "nasbot_otmann", [0, 1], (100.0 - errors[:2])[:, None], 100.0,
                         np.ones(2), np.zeros(2), "string")
    (row,) = reproduction_rows([variant])
    assert row.published == PUBLISHED[("tnb101_macro", "normal", "nasbot")][0] and row.variant_of == "nasbot"
    assert row.note.startswith("our variant beside the published NASBOT")
    assert "NASBOT, one OTMANN distance (ours)" in reproduction_markdown([row], [variant])


def test_reproduction_table_lists_nb101_numbers_as_needing_the_official_file():
    from nasstages.report.reproduction import (PUBLISHED_NEEDS_DATA, reproduction_latex, reproduction_markdown,
                                               reproduction_rows)
    from nasstages.report.trajectories import MethodRuns

    run = MethodRuns("tnb101_macro", "normal", "rs", [0, 1], np.array([[100 - 39.1], [100 - 39.3]]), 100.0,
                     np.ones(2), np.zeros(2), "string")
    text = reproduction_markdown(reproduction_rows([run]), [run])
    pending = [line for line in text.splitlines() if line.startswith("| NAS-Bench-101 |")]
    assert len(pending) == len(PUBLISHED_NEEDS_DATA) == 6
    assert all("needs the official file" in line and "| – | – |" in line for line in pending)
    assert "| NAS-Bench-101 | CIFAR-10 | BANANAS | 5.92 |" in text and "AAAI 2021" in text and "NeurIPS 2020" in text
    assert "needs the official file" in reproduction_latex(reproduction_rows([run]), [run])


def test_errors_table_shows_published_numbers_in_brackets_where_there_are_some():
    from nasstages.report.reproduction import PUBLISHED
    from nasstages.report.names import dataset_name
    from nasstages.report.tables import task_error_latex, task_error_markdown
    from nasstages.report.trajectories import MethodRuns

    published = PUBLISHED[("tnb101_macro", "normal", "hotnas")][0]
    hotnas = MethodRuns("tnb101_macro", "normal", "hotnas", [0, 1], np.array([[100 - 37.0], [100 - 37.2]]), 100.0,
                        np.ones(2), np.zeros(2), "string")
    twnas = MethodRuns("tnb101_macro", "normal", "twnas", [0, 1], np.array([[60.0], [61.0]]), 100.0,
                       np.ones(2), np.zeros(2), "string")
    text = task_error_markdown([hotnas, twnas])
    row = next(line for line in text.splitlines() if line.startswith(f"| {dataset_name('normal')} |"))
    hotnas_cell, twnas_cell = row.split("|")[2], row.split("|")[3]
    assert f"[{published:.2f}]" in hotnas_cell and "[" not in twnas_cell  # twnas: no published number
    assert "In brackets: the published number" in text and "CVPR 2023" in text
    assert f"[{published:.2f}]" in task_error_latex([hotnas, twnas])
    assert "In brackets" not in task_error_markdown([twnas])


def _edit_last_value(text: str) -> str:
    """The CSV with its last row's incumbent_mean_acc raised above any optimum."""
    lines = text.splitlines()
    header = lines[0].split(",")
    cells = lines[-1].split(",")
    cells[header.index("incumbent_mean_acc")] = "99.5"
    return "\n".join(lines[:-1] + [",".join(cells)]) + "\n"


@pytest.mark.parametrize("fault, message", [
    (lambda t: t[: len(t) // 2], "does not match the checksum"),                      # cut mid-line
    (lambda t: "".join(t.splitlines(keepends=True)[:-5]), "does not match the checksum"),  # cut at a row boundary
    (_edit_last_value, "does not match the checksum"),                                 # one value edited
])
def test_report_refuses_a_search_log_that_disagrees_with_its_record(search_logs, tmp_path, fault, message):
    import shutil

    root, paths = search_logs
    copy = tmp_path / "search"
    shutil.copytree(root / "search", copy)
    victim = copy / "nb201" / "cifar10-valid" / "re" / "seed2.csv"
    victim.write_text(fault(victim.read_text()))
    finished = {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    with pytest.raises(NasstagesError, match=message) as error:
        write_report(sorted(copy.rglob("seed*.csv")), tmp_path / "report")
    assert str(victim) in str(error.value) and "delete" in str(error.value) and "rerun" in str(error.value)
    assert not (tmp_path / "report" / "tables" / "nb201_final.md").exists()
    assert {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()} == finished  # nothing touched


def test_report_refuses_rows_final_or_values_its_record_contradicts(search_logs, tmp_path):
    """Checksum and CSV rewritten together (a consistent forgery or a buggy writer): the record's
    budget, final incumbent and the benchmark's optimum still catch it."""
    import hashlib
    import json

    from nasstages.report.trajectories import verified_search_log

    root, _ = search_logs
    source = root / "search" / "nb201" / "cifar10-valid" / "re" / "seed1.csv"
    meta = json.loads(source.with_suffix(".json").read_text())
    text = source.read_text()

    def check(new_text: str, new_meta: dict):
        raw = new_text.encode()
        return verified_search_log(tmp_path / "seed1.csv", raw, {**new_meta, "csv_sha256": hashlib.sha256(raw).hexdigest()})

    assert len(check(text, meta)) == 30  # the untouched log passes
    with pytest.raises(NasstagesError, match="has 25 rows, not the 30 queries"):
        check("".join(text.splitlines(keepends=True)[:26]), meta)
    with pytest.raises(NasstagesError, match="above the benchmark's optimum"):
        check(_edit_last_value(text), {**meta, "final": {**meta["final"], "incumbent_mean_acc": 99.5}})
    with pytest.raises(NasstagesError, match="disagrees with its JSON"):
        check(text, {**meta, "final": {**meta["final"], "incumbent_mean_acc": meta["final"]["incumbent_mean_acc"] - 1}})
    with pytest.raises(NasstagesError, match="records no csv_sha256"):
        verified_search_log(source, text.encode(), {k: v for k, v in meta.items() if k != "csv_sha256"})


def test_tidy_aggregate_holds_every_query_of_every_run_with_its_protocol(search_logs, tmp_path):
    root, paths = search_logs
    write_report(paths, tmp_path / "a")
    write_report(paths, tmp_path / "b")
    first = (tmp_path / "a" / "runs.csv.gz").read_bytes()
    assert first == (tmp_path / "b" / "runs.csv.gz").read_bytes()  # no time or name in the gzip header
    tidy = pd.read_csv(tmp_path / "a" / "runs.csv.gz")
    assert len(tidy) == len(paths) * 30
    assert list(tidy.columns[:4]) == ["benchmark", "dataset", "method", "seed"]
    assert {"query_rule", "noise", "budget", "split", "optimum", "regret", "sim_time_s"} <= set(tidy.columns)
    for path in paths[::5]:  # .../nb201/{dataset}/{method}/seed{S}.csv, row for row
        dataset, method, seed = path.parts[-3], path.parts[-2], int(path.stem.removeprefix("seed"))
        rows = tidy[(tidy.dataset == dataset) & (tidy.method == method) & (tidy.seed == seed)].reset_index(drop=True)
        log = pd.read_csv(path)
        pd.testing.assert_frame_equal(rows[list(log.columns)], log, check_dtype=False)
        assert (rows.budget == 30).all() and (rows.benchmark == "nb201").all()
        np.testing.assert_allclose(rows.regret, rows.optimum - log.incumbent_mean_acc)
        assert (rows.regret >= 0).all()
