"""The workflow as the Snakemake catalog checks it: `snakemake --lint` clean, one conda environment
for every rule that lists what the package needs."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import yaml

from conftest import REPO


def test_snakemake_lint_is_clean():
    found = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=REPO, capture_output=True,
                           text=True, timeout=300)
    assert found.returncode == 0, found.stdout[-3000:] + found.stderr[-3000:]
    assert "Lints for" not in found.stdout + found.stderr


def test_every_rule_names_the_conda_environment_that_holds_the_package_and_its_dependencies():
    rules = sorted((REPO / "workflow" / "rules").glob("*.smk"))
    for path in rules:
        text = path.read_text()
        assert text.count("\nrule ") + text.startswith("rule ") == text.count("    conda:\n        NASSTAGES_ENV\n"), path
    env = yaml.safe_load((REPO / "workflow" / "envs" / "nasstages.yaml").read_text())
    conda = {re.split(r"[<>=!]", item)[0] for item in env["dependencies"] if isinstance(item, str)}
    pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    assert "-e ../.." in pip  # the checkout itself, resolved from workflow/envs/
    assert (REPO / "workflow" / "envs" / "../../pyproject.toml").exists()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    conda_name = {"torch": "pytorch"}
    needed = {conda_name.get(name, name) for name in (re.split(r"[<>=!\[]", d)[0] for d in project["dependencies"])}
    assert needed - {"snakemake"} <= conda, needed - conda  # snakemake itself comes with the package's pip install
