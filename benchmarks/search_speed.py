"""Seconds per search run, new implementation against a previous commit, in one run of this script.

Each run is a ``python -m nasstages search`` subprocess, so process start and imports count, as
they do for every Snakemake job. The previous implementation runs from a ``git worktree`` of
``--previous`` (default: the commit before the surrogate rewrite) on the same stores and matrices.
Printed per method: median seconds per run over ``--seeds`` seeds for both, their ratio, the
new run's surrogate share (the ``surrogate_s`` column's sum over the run's wall-clock) and the goal.

Needs the default pipeline's stores and TNB101 macro matrices (``snakemake --profile
workflow/profiles/local`` first, or at least ``results/benchmarks/{nb201,tnb101_macro}.h5`` and
``results/distances/tnb101_macro/{edit,otmann_lpemd,hotnn}/all.h5``); arch2vec methods also need
``results/encoders/nb201/arch2vec.h5`` and are skipped without it. ``--results`` points at another
results folder (e.g. a fresh clone's).

    python benchmarks/search_speed.py [--previous COMMIT] [--seeds 3] [--only hotnas,...]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PREVIOUS = "eb6788f"  # last commit on the GPyTorch surrogate, before the search-speed work (issue 16)


@dataclass
class Case:
    method: str
    benchmark: str
    dataset: str
    budget: int
    goal_s: float | None
    matrix: str = ""  # metric of the whole-space matrix read, if any
    needs: str = ""  # a file under the results folder the case needs beyond the store

    distance_bo: bool = False  # candidates from Algorithm 1's pool, distances on the fly
    candidates: str = ""  # the new implementation's ``candidates`` (the previous one knew only whole space)
    kernel: str = ""  # the new implementation's ``kernel`` (nasbot on a matrix: exp, the one-distance GP)

    @property
    def label(self) -> str:
        if self.matrix:
            where = "whole space, " if self.candidates == "all" else "Alg. 1 pool, matrix, "
        elif self.candidates == "evolution":
            where = "evolutionary EI, on the fly, "
        else:
            where = "Alg. 1 pool, on the fly, " if self.distance_bo else ""
        if self.method == "nasbot":
            where += "one distance, " if self.kernel == "exp" else "lpemd, "
        return f"{self.method} {self.benchmark} {self.dataset} ({where}{self.budget} q)"


CASES = [
    # nasbot reads its 8-term otmann_lpemd stack (issue 17; the previous implementation read one distance)
    *[Case(m, "tnb101_macro", "normal", 100, 1.0, matrix=metric, candidates="all")
      for m, metric in (("bo_edit", "edit"), ("nasbot", "otmann_lpemd"), ("hotnas", "hotnn"))],
    # the default TNB101 protocol since issue 22 (no previous implementation to compare)
    *[Case(m, "tnb101_macro", "normal", 100, None, matrix=metric, candidates="pool")
      for m, metric in (("bo_edit", "edit"), ("nasbot", "otmann_lpemd"), ("hotnas", "hotnn"))],
    *[Case(m, "nb201", "cifar10-valid", 150, 3.0, distance_bo=True, candidates="pool", kernel=kernel)
      for m, kernel in (("hotnas", ""), ("nasbot", "exp"), ("bo_edit", ""), ("twnas", ""), ("twnas_kdpp", ""))],
    # NASBOT as published: EI maximised by evolution (30k acquisition evaluations, issue 17), its
    # eight-distance lpemd kernel on the fly (issue 17, later), and the one-distance GP beside it
    Case("nasbot", "nb201", "cifar10-valid", 150, None, distance_bo=True, candidates="evolution"),
    Case("nasbot", "nb201", "cifar10-valid", 150, None, distance_bo=True, candidates="evolution", kernel="exp"),
    Case("nasbot", "tnb101_macro", "normal", 100, None, distance_bo=True, candidates="evolution"),
    *[Case(m, "nb201", "cifar10-valid", 150, None) for m in ("anasod_bo", "bananas", "gates_predictor")],
    *[Case(m, "nb201", "cifar10-valid", 150, None, needs="encoders/nb201/arch2vec.h5")
      for m in ("arch2vec_bo", "arch2vec_rl")],
    *[Case(m, "nb201", "cifar10-valid", 150, None) for m in ("rs", "re")],
]


RUN_NUMBER = itertools.count()


def run_once(checkout: Path, case: Case, seed: int, results: Path, out_dir: Path,
             new: bool = True) -> tuple[float, float]:
    """(wall seconds, surrogate seconds) of one search process run from ``checkout``."""
    params: dict = {}
    if case.matrix:
        matrix = results / "distances" / case.benchmark / case.matrix / "all.h5"
        params["distance_matrix"] = str(matrix if new else format1_copy(matrix, out_dir))
    if case.candidates and new:
        params["candidates"] = case.candidates
    if case.kernel and new:
        params["kernel"] = case.kernel
    if case.needs:
        params["embeddings"] = str(results / case.needs)
    # a fresh path per run: `nasstages search` keeps a finished result of the same job and code
    out = out_dir / f"run{next(RUN_NUMBER)}_{case.method}_{case.benchmark}_{seed}.csv"
    command = [sys.executable, "-m", "nasstages", "search", "--benchmark", case.benchmark,
               "--store", str(results / "benchmarks" / f"{case.benchmark}.h5"), "--dataset", case.dataset,
               "--method", case.method, "--seed", str(seed), "--budget", str(case.budget),
               "--params", json.dumps(params), "--checkpoint-every", "25", "--out", str(out), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    started = time.perf_counter()
    subprocess.run(command, cwd=checkout, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    log = pd.read_csv(out)
    return wall, float(log["surrogate_s"].sum())


def format1_copy(matrix: Path, out_dir: Path) -> Path:
    """The matrix as the previous implementation reads it: the same distances, labelled format 1
    (format 2 only added content checksums, which the previous reader ignores)."""
    import shutil

    import h5py

    copy = out_dir / f"format1_{matrix.parent.parent.name}_{matrix.parent.name}.h5"
    if not copy.exists():
        shutil.copy(matrix, copy)
        with h5py.File(copy, "r+") as h5:
            h5.attrs["format_version"] = 1
    return copy


def previous_checkout(commit: str, where: Path) -> Path:
    subprocess.run(["git", "worktree", "add", "--detach", str(where), commit], cwd=ROOT, check=True,
                   capture_output=True)
    return where


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--previous", default=PREVIOUS, help="commit of the previous implementation")
    parser.add_argument("--seeds", type=int, default=3, help="runs per method of the new implementation")
    parser.add_argument("--previous-seeds", type=int, default=1,
                        help="runs per method of the previous one (up to 35 s each)")
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    parser.add_argument("--only", default="", help="comma-separated methods")
    parser.add_argument("--no-previous", action="store_true", help="time the new implementation only")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    cases = [c for c in CASES if (not only or c.method in only) and (not c.needs or (args.results / c.needs).exists())]
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; "
          f"one search job per process, 1 thread; median over seeds (new: {args.seeds}, previous: "
          f"{args.previous_seeds})")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        checkouts = {"new": ROOT}
        if not args.no_previous:
            checkouts["previous"] = previous_checkout(args.previous, tmp / "previous")
        try:
            for name, checkout in checkouts.items():  # warm-up: numba's on-disk cache of each checkout
                # byte-compiled as the workflow's onstart does (PYTHONDONTWRITEBYTECODE would make
                # every process compile the package again)
                subprocess.run([sys.executable, "-m", "compileall", "-q", str(checkout / "nasstages")], check=True,
                               capture_output=True)
                run_once(checkout, Case("hotnas", "nb201", "cifar10-valid", 12, None), 0, args.results, tmp)
            header = f"{'case':<62} {'previous s':>10} {'new s':>7} {'speed-up':>8} {'surrogate':>9} {'goal':>6}"
            print(header)
            print("-" * len(header))
            for case in cases:
                times: dict[str, float] = {}
                share = 0.0
                for name, checkout in checkouts.items():
                    if name == "previous" and (case.candidates == "pool" or case.matrix == "otmann_lpemd"):
                        continue  # the previous implementation read one-distance matrices over the whole space
                    seeds = args.seeds if name == "new" else args.previous_seeds
                    try:
                        runs = [run_once(checkout, case, seed, args.results, tmp, name == "new") for seed in range(seeds)]
                    except subprocess.CalledProcessError as exc:
                        if name == "new":
                            raise
                        # e.g. an input file format the previous implementation predates (embeddings v2)
                        reason = exc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
                        print(f"  (previous implementation failed on {case.label}: {reason[0][:160]})")
                        continue
                    times[name] = statistics.median(w for w, _ in runs)
                    if name == "new":
                        share = statistics.median(s / w for w, s in runs)
                before = times.get("previous", float("nan"))
                goal = f"{case.goal_s:.0f} s" if case.goal_s else "-"
                met = "" if not case.goal_s else (" met" if times["new"] <= case.goal_s else " MISSED")
                print(f"{case.label:<62} {before:>10.2f} {times['new']:>7.2f} {before / times['new']:>7.1f}x "
                      f"{share:>8.0%} {goal:>6}{met}", flush=True)
        finally:
            if "previous" in checkouts:
                subprocess.run(["git", "worktree", "remove", "--force", str(checkouts["previous"])], cwd=ROOT,
                               capture_output=True)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
