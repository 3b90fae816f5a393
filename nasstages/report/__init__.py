"""The report stage: figures and tables from search logs (never from optimizer internals)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from nasstages.io import write_text_atomic
from nasstages.report.darts import darts_latex, darts_markdown, load_evaluations
from nasstages.report.encoders import encoder_markdown, plot_predictor_curves, predictor_markdown
from nasstages.report.aggregate import write_tidy_runs
from nasstages.report.figures import has_optimum, method_colors, plot_error_curves, plot_regret_curves, plot_time_curves
from nasstages.report.provenance import provenance_markdown
from nasstages.report.ranks import rank_figures
from nasstages.report.tables import (
    cost_table,
    latex_table,
    markdown_table,
    table_layout,
    task_error_latex,
    task_error_markdown,
)
from nasstages.report.reproduction import reproduction_latex, reproduction_markdown, reproduction_rows
from nasstages.report.trajectories import MethodRuns, load_runs


def figure_stem(out_dir: Path, benchmark: str, dataset: str) -> Path:
    return out_dir / "figures" / f"{benchmark}_{dataset}"


def table_stem(out_dir: Path, benchmark: str) -> Path:
    return out_dir / "tables" / f"{benchmark}_final"


def write_report(csv_paths: Iterable[str | Path], out_dir: str | Path, encoder_metrics: Iterable[str | Path] = (),
                 encoder_quality: Iterable[str | Path] = (), predictor_metrics: Iterable[str | Path] = (),
                 evaluations: Iterable[str | Path] = (), estimator_diagnosis: Iterable[str | Path] = ()) -> list[Path]:
    """Write figures per (benchmark, dataset) (best-found error against queries and simulated time,
    regret), one table per benchmark and the tidy table of every query (``runs.csv.gz``), plus encoder and
    predictor tables when their files are given (and the DARTS final-evaluation table with the
    ``evaluations`` of the evaluate stage); return the paths."""
    out_dir = Path(out_dir)
    encoder_metrics, encoder_quality, predictor_metrics = list(encoder_metrics), list(encoder_quality), list(predictor_metrics)
    csv_paths = list(csv_paths)
    runs = load_runs(csv_paths)
    written: list[Path] = []
    by_pair: dict[tuple[str, str], list[MethodRuns]] = {}
    by_benchmark: dict[str, list[MethodRuns]] = {}
    for run in runs:
        by_pair.setdefault((run.benchmark, run.dataset), []).append(run)
        by_benchmark.setdefault(run.benchmark, []).append(run)
    colors = method_colors(run.method for run in runs)
    for (benchmark, dataset), group in by_pair.items():
        stem = figure_stem(out_dir, benchmark, dataset)
        written += plot_error_curves(group, stem, colors)
        written += plot_time_curves(group, stem.with_name(f"{stem.name}_time"), colors)
        if has_optimum(group):  # regret needs the optimum, unknown where queries train networks (DARTS)
            written += plot_regret_curves(group, stem.with_name(f"{stem.name}_regret"), colors)
    written.append(write_tidy_runs(runs, out_dir / "runs.csv.gz"))
    written += rank_figures(runs, out_dir)
    for benchmark, group in by_benchmark.items():
        layout = table_layout(benchmark)
        if layout == "final":  # trained queries: search error + final test error
            stem = table_stem(out_dir, benchmark)
            found = load_evaluations(evaluations)
            write_text_atomic(stem.with_suffix(".md"), darts_markdown(group, found))
            write_text_atomic(stem.with_suffix(".tex"), darts_latex(group, found))
        elif layout == "errors":  # tasks with different metrics: errors, HOTNAS layout
            stem = out_dir / "tables" / f"{benchmark}_errors"
            write_text_atomic(stem.with_suffix(".md"), task_error_markdown(group))
            write_text_atomic(stem.with_suffix(".tex"), task_error_latex(group))
        else:
            stem = table_stem(out_dir, benchmark)
            write_text_atomic(stem.with_suffix(".md"), markdown_table(group))
            write_text_atomic(stem.with_suffix(".tex"), latex_table(group))
        cost = out_dir / "tables" / f"{benchmark}_cost.md"
        write_text_atomic(cost, cost_table(group))
        written += [stem.with_suffix(".md"), stem.with_suffix(".tex"), cost]
    reproduced = reproduction_rows(runs)
    if reproduced:  # published numbers of the seed systems beside ours
        compared = [run for run in runs if any(row.benchmark == run.benchmark for row in reproduced)]
        stem = out_dir / "tables" / "reproduction"
        write_text_atomic(stem.with_suffix(".md"), reproduction_markdown(reproduced, compared))
        write_text_atomic(stem.with_suffix(".tex"), reproduction_latex(reproduced, compared))
        written += [stem.with_suffix(".md"), stem.with_suffix(".tex")]
    groups: dict[str, list[Path]] = {}
    for csv in map(Path, csv_paths):  # .../{benchmark}/{dataset}/{method}/seed{S}.csv, checked by load_runs
        benchmark, dataset, method = csv.parts[-4:-1]
        groups.setdefault(f"search {benchmark}/{dataset}/{method}", []).append(csv.with_suffix(".json"))
    groups["encoders"] = [Path(p) for p in [*encoder_metrics, *encoder_quality]]
    groups["predictors"] = [Path(p) for p in predictor_metrics]
    path = out_dir / "tables" / "provenance.md"
    write_text_atomic(path, provenance_markdown(groups))
    written.append(path)
    if encoder_metrics or encoder_quality:
        path = out_dir / "tables" / "encoders.md"
        write_text_atomic(path, encoder_markdown(encoder_metrics, encoder_quality))
        written.append(path)
    predictor_records = [json.loads(Path(p).read_text()) for p in predictor_metrics]
    for path in map(Path, estimator_diagnosis):  # results/estimates/{space}/diagnosis_{benchmark}_{dataset}_{pool}.json
        from nasstages.report.estimators import estimator_latex, estimator_markdown, plot_rank_scatter, predictor_rows

        found = json.loads(path.read_text())
        context = found["context"]
        rows = list(found["rows"])
        for record in predictor_records:  # predictors of the same benchmark and dataset join the table
            if (record["benchmark"], record["dataset"]) == (context["benchmark"], context["dataset"]):
                rows += predictor_rows(record)
        stem = out_dir / "tables" / f"estimators_{path.stem.removeprefix('diagnosis_')}"
        write_text_atomic(stem.with_suffix(".md"), estimator_markdown(rows, context))
        write_text_atomic(stem.with_suffix(".tex"), estimator_latex(rows, context))
        written += [stem.with_suffix(".md"), stem.with_suffix(".tex")]
        written += plot_rank_scatter(found["rows"], context, out_dir / "figures" / stem.name)
    if predictor_metrics:
        path = out_dir / "tables" / "predictors.md"
        write_text_atomic(path, predictor_markdown(predictor_metrics))
        written.append(path)
        for record in predictor_records:
            written += plot_predictor_curves(
                record, out_dir / "figures" / f"predictors_{record['benchmark']}_{record['dataset']}")
    return written
