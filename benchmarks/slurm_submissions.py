"""How many sbatch submissions a config makes through the SLURM profile, with and without its job
grouping, counted from Snakemake's own dry run (no cluster needed): one per group job, one per
ungrouped job, none for local rules.

    python benchmarks/slurm_submissions.py [--configfile config.yaml] [--results /tmp/empty]

Point ``--results`` at an empty folder to count a run from scratch (the default).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "workflow" / "profiles" / "slurm"


def submissions(configfile: Path, results: Path, grouped: bool) -> tuple[int, Counter]:
    """(sbatch submissions, jobs per rule) of a dry run through the SLURM profile."""
    command = [sys.executable, "-m", "snakemake", "-n", "--profile", str(PROFILE), "--configfile", str(configfile),
               "--config", f"results={results}"]
    if not grouped:
        command += ["--groups", "none=none"]  # replaces the profile's rule -> group mapping
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stdout[-2000:] + out.stderr[-2000:])
    text = out.stdout + out.stderr
    groups = len(re.findall(r"Group job \S+ \(jobs", text))
    single = Counter(re.findall(r"^(?:\[[^\]]*\] )?(?:local)?rule (\w+):", text, flags=re.M))
    jobs = Counter(re.findall(r"^\s+rule (\w+):", text, flags=re.M)) + single
    submitted = sum(n for rule, n in single.items() if rule not in local_rules())
    return groups + submitted, jobs


def local_rules() -> set[str]:
    """The Snakefile's ``localrules:`` (run by the submitting Snakemake itself, never submitted)."""
    block = re.search(r"^localrules:\n((?:\s+\w+,?\n)+)", (ROOT / "Snakefile").read_text(), flags=re.M)
    return set(re.findall(r"\w+", block.group(1))) if block else set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configfile", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--results", type=Path, default=None, help="results folder (default: a new empty one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = args.results or Path(tmp) / "results"
        before, jobs = submissions(args.configfile, results, grouped=False)
        after, _ = submissions(args.configfile, results, grouped=True)
    print(f"{args.configfile.name}: {sum(jobs.values())} jobs ({', '.join(f'{r} {n}' for r, n in jobs.most_common())})")
    print(f"sbatch submissions without grouping: {before}; with the profile's groups: {after} "
          f"({before / after:.1f}x fewer)")


if __name__ == "__main__":
    main()
