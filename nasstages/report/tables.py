"""Final best-found validation accuracy per method and dataset, as Markdown and LaTeX tables."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nasstages.analysis.significance import TEST_SENTENCE, not_worse_than_best
from nasstages.report.names import benchmark_name, dataset_name, method_name
from nasstages.report.trajectories import MethodRuns, mean_and_se, protocol_sentence


@dataclass(frozen=True)
class Cell:
    mean: float
    se: float
    n: int

    def text(self) -> str:
        return f"{self.mean:.2f}" if math.isnan(self.se) else f"{self.mean:.2f} ± {self.se:.2f}"


def final_cells(runs: list[MethodRuns]) -> dict[tuple[str, str], Cell]:
    """(method, dataset) -> mean +- SE of the incumbent's mean accuracy after the last query."""
    cells = {}
    for run in runs:
        mean, se = mean_and_se(run.incumbent_mean_acc[:, -1:])
        cells[(run.method, run.dataset)] = Cell(float(mean[0]), float(se[0]), len(run.seeds))
    return cells


def _layout(runs: list[MethodRuns]) -> tuple[list[str], list[str], dict[tuple[str, str], Cell], dict[str, float]]:
    datasets = list(dict.fromkeys(run.dataset for run in runs))
    methods = list(dict.fromkeys(run.method for run in runs))
    optimum = {run.dataset: run.optimum for run in runs}
    return datasets, methods, final_cells(runs), optimum


def _caption(runs: list[MethodRuns]) -> str:
    budgets = sorted({run.incumbent_mean_acc.shape[1] for run in runs})
    seeds = sorted({len(run.seeds) for run in runs})
    return (
        f"{benchmark_name(runs[0].benchmark)}: validation accuracy (%) of the best architecture found after "
        f"{'/'.join(map(str, budgets))} queries, mean ± standard error over {'/'.join(map(str, seeds))} seeds. "
        "The incumbent is chosen by observed (single-seed, noisy) validation accuracy; the value shown is its "
        "mean validation accuracy over the benchmark's training seeds. " + protocol_sentence(runs) + " "
        + TEST_SENTENCE
    )


def _bold_methods(runs: list[MethodRuns], higher_is_better: bool = True) -> dict[str, set[str]]:
    """Dataset -> the methods set in bold: not significantly worse than the best (see analysis.significance)."""
    finals: dict[str, dict[str, np.ndarray]] = {}
    for run in runs:
        finals.setdefault(run.dataset, {})[run.method] = run.incumbent_mean_acc[:, -1]
    return {dataset: not_worse_than_best(values, higher_is_better) for dataset, values in finals.items()}


def markdown_table(runs: list[MethodRuns]) -> str:
    """A Markdown table (methods x datasets), in bold every method not significantly worse than the
    best mean, plus the optimum row."""
    datasets, methods, cells, optimum = _layout(runs)
    bold = _bold_methods(runs)
    lines = [
        "| Method | " + " | ".join(dataset_name(d) for d in datasets) + " |",
        "|---|" + "---:|" * len(datasets),
    ]
    for method in methods:
        entries = []
        for dataset in datasets:
            cell = cells.get((method, dataset))
            text = "–" if cell is None else cell.text()
            entries.append(f"**{text}**" if cell is not None and method in bold[dataset] else text)
        lines.append(f"| {method_name(method)} | " + " | ".join(entries) + " |")
    lines.append("| Optimum | " + " | ".join(f"{optimum[d]:.2f}" for d in datasets) + " |")
    return "\n".join(lines) + "\n\n" + _caption(runs) + "\n"


def latex_table(runs: list[MethodRuns]) -> str:
    """A booktabs LaTeX table (methods x datasets), bold as in the Markdown one, plus the optimum row."""
    datasets, methods, cells, optimum = _layout(runs)
    bold = _bold_methods(runs)

    def tex(cell: Cell | None, bold: bool) -> str:
        if cell is None:
            return "--"
        body = f"{cell.mean:.2f}" if np.isnan(cell.se) else f"{cell.mean:.2f}$\\pm${cell.se:.2f}"
        return f"\\textbf{{{body}}}" if bold else body

    caption = _caption(runs).replace("±", "$\\pm$").replace("%", "\\%")
    lines = [
        "\\begin{table}[t]",
        "\\centering",
        f"\\caption{{{caption}}}",
        f"\\label{{tab:{runs[0].benchmark}}}",
        "\\begin{tabular}{l" + "c" * len(datasets) + "}",
        "\\toprule",
        "Method & " + " & ".join(dataset_name(d) for d in datasets) + " \\\\",
        "\\midrule",
    ]
    for method in methods:
        row = [tex(cells.get((method, d)), method in bold.get(d, set())) for d in datasets]
        lines.append(f"{method_name(method)} & " + " & ".join(row) + " \\\\")
    lines += [
        "\\midrule",
        "Optimum & " + " & ".join(f"{optimum[d]:.2f}" for d in datasets) + " \\\\",
        "\\bottomrule",
        "\\end{tabular}",
        "\\end{table}",
    ]
    return "\n".join(lines) + "\n"


def cost_table(runs: list[MethodRuns]) -> str:
    """Markdown: real seconds per run and the surrogate's share of them, per method (all datasets)."""
    methods = list(dict.fromkeys(run.method for run in runs))
    lines = ["| Method | seconds per run | surrogate seconds | surrogate share |", "|---|---:|---:|---:|"]
    for method in methods:
        elapsed = np.concatenate([run.elapsed_s for run in runs if run.method == method])
        surrogate = np.concatenate([run.surrogate_s for run in runs if run.method == method])
        share = surrogate.sum() / elapsed.sum() if elapsed.sum() > 0 else float("nan")
        lines.append(f"| {method_name(method)} | {elapsed.mean():.2f} | {surrogate.mean():.2f} | {share:.0%} |")
    return "\n".join(lines) + (
        "\n\nReal (not simulated) wall-clock of one search run, mean over its seeds and datasets; the surrogate's "
        "part is its fit plus the acquisition over the candidates.\n")


def table_layout(benchmark: str) -> str:
    """The benchmark plugin's table layout: ``accuracy``; ``errors`` (tasks with different metrics:
    validation error per task, tasks as rows, the HOTNAS paper's layout); ``final`` (trained queries:
    search error beside the final test error). Unregistered names (old result folders) get ``accuracy``."""
    from nasstages.benchmarks import BENCHMARKS, plugin

    return plugin(benchmark).table if benchmark in BENCHMARKS else "accuracy"


def _error_cells(runs: list[MethodRuns]) -> tuple[list[str], list[str], dict[tuple[str, str], Cell], dict[str, float]]:
    """(tasks, methods, (method, task) -> final validation error mean ± SE, task -> optimal error)."""
    tasks = list(dict.fromkeys(run.dataset for run in runs))
    methods = list(dict.fromkeys(run.method for run in runs))
    cells = {}
    for run in runs:
        mean, se = mean_and_se(run.error[:, -1:])
        cells[(run.method, run.dataset)] = Cell(float(mean[0]), float(se[0]), len(run.seeds))
    return tasks, methods, cells, {run.dataset: 100.0 - run.optimum for run in runs}


def _error_caption(runs: list[MethodRuns]) -> str:
    budgets = sorted({run.incumbent_mean_acc.shape[1] for run in runs})
    seeds = sorted({len(run.seeds) for run in runs})
    return (f"{benchmark_name(runs[0].benchmark)}: validation error of the best architecture found after "
            f"{'/'.join(map(str, budgets))} queries (lower is better), mean ± standard error over "
            f"{'/'.join(map(str, seeds))} seeds. Errors: classification and jigsaw 100 − top-1 accuracy; "
            "autoencoder and surface normal 100·(1 − SSIM); room layout 100 × loss; segmentation 100 − pixel "
            "accuracy (the paper's mIoU is not available offline). One training run per architecture, so "
            "queries are deterministic. " + protocol_sentence(runs) + " " + TEST_SENTENCE)


def _published(runs: list[MethodRuns]) -> dict[tuple[str, str], tuple[float, str]]:
    """(method, task) -> (published number, its source) where the reproduction table holds one."""
    from nasstages.report.reproduction import PUBLISHED

    return {(run.method, run.dataset): PUBLISHED[key] for run in runs
            if (key := (run.benchmark, run.dataset, run.method)) in PUBLISHED}


def _published_sentence(published: dict[tuple[str, str], tuple[float, str]]) -> str:
    """The caption's account of the bracketed published numbers (empty when the table has none)."""
    sources = sorted({source for _, source in published.values()})
    if not sources:
        return ""
    return (" In brackets: the published number under the paper's own protocol, from " + "; ".join(sources) +
            " (the reproduction table gives the gap in standard errors).")


def task_error_markdown(runs: list[MethodRuns]) -> str:
    """HOTNAS-paper layout: tasks x methods, final validation error, in bold the lowest mean and every
    method not significantly worse; a published number in brackets beside ours where there is one."""
    tasks, methods, cells, optimum = _error_cells(runs)
    bold = _bold_methods(runs)  # on accuracy (= 100 - error): the same ranks
    published = _published(runs)
    lines = ["| Task | " + " | ".join(method_name(m) for m in methods) + " | Optimum |",
             "|---|" + "---:|" * (len(methods) + 1)]
    for task in tasks:
        entries = []
        for m in methods:
            if (m, task) not in cells:
                entries.append("–")
                continue
            text = f"**{cells[(m, task)].text()}**" if m in bold[task] else cells[(m, task)].text()
            entries.append(text + (f" [{published[(m, task)][0]:.2f}]" if (m, task) in published else ""))
        lines.append(f"| {dataset_name(task)} | " + " | ".join(entries) + f" | {optimum[task]:.2f} |")
    return "\n".join(lines) + "\n\n" + _error_caption(runs) + _published_sentence(published) + "\n"


def task_error_latex(runs: list[MethodRuns]) -> str:
    """The same table in booktabs LaTeX."""
    tasks, methods, cells, optimum = _error_cells(runs)
    published = _published(runs)
    caption = (_error_caption(runs) + _published_sentence(published)).replace("±", "$\\pm$").replace("%", "\\%").replace("−", "$-$").replace(
        "×", "$\\times$").replace("·", "$\\cdot$")
    lines = ["\\begin{table}[t]", "\\centering", f"\\caption{{{caption}}}",
             f"\\label{{tab:{runs[0].benchmark}_errors}}", "\\begin{tabular}{l" + "c" * (len(methods) + 1) + "}",
             "\\toprule", "Task & " + " & ".join(method_name(m) for m in methods) + " & Optimum \\\\", "\\midrule"]
    bold = _bold_methods(runs)
    for task in tasks:
        row = []
        for m in methods:
            cell = cells.get((m, task))
            if cell is None:
                row.append("--")
                continue
            body = f"{cell.mean:.2f}" if np.isnan(cell.se) else f"{cell.mean:.2f}$\\pm${cell.se:.2f}"
            body = f"\\textbf{{{body}}}" if m in bold[task] else body
            row.append(body + (f" [{published[(m, task)][0]:.2f}]" if (m, task) in published else ""))
        lines.append(f"{dataset_name(task).replace('_', ' ')} & " + " & ".join(row) + f" & {optimum[task]:.2f} \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"
