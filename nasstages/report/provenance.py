"""The provenance table: which code, package versions and configs produced the reported results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

SHOWN_VERSIONS = ("nasstages", "python", "numpy", "torch", "pot", "gpytorch", "snakemake")


def _record(path: Path) -> dict[str, Any] | None:
    data = json.loads(path.read_text())
    return data.get("provenance", data) if isinstance(data, dict) else None


def provenance_markdown(groups: dict[str, Iterable[str | Path]]) -> str:
    """One row per (result group, git commit, package versions): how many files, when, which configs."""
    lines = ["## Provenance", "",
             "| Results | Files | Git commit | Created (UTC) | Configs | " + " | ".join(SHOWN_VERSIONS) + " |",
             "|---|---:|---|---|---:|" + "---|" * len(SHOWN_VERSIONS)]
    for group, paths in groups.items():
        rows: dict[tuple, dict[str, Any]] = {}
        for path in paths:
            record = _record(Path(path))
            if not record or "git_commit" not in record:
                continue
            versions = record.get("versions", {})
            key = (record["git_commit"], tuple(versions.get(v, "—") for v in SHOWN_VERSIONS))
            row = rows.setdefault(key, {"files": 0, "created": [], "configs": set()})
            row["files"] += 1
            row["created"].append(record.get("created_utc", ""))
            row["configs"].add(record.get("config_hash", ""))
        for (commit, versions), row in rows.items():
            created = sorted(c for c in row["created"] if c)
            when = f"{created[0]} – {created[-1]}" if len(created) > 1 and created[0] != created[-1] else (
                created[0] if created else "—")
            lines.append(f"| {group} | {row['files']} | `{commit[:12]}{'+dirty' if commit.endswith('+dirty') else ''}` "
                         f"| {when} | {len(row['configs'])} | " + " | ".join(versions) + " |")
    lines += ["", "Each result file records its full config, the package versions and the git commit that made it "
              "(search: the `.json` beside each CSV; encoders and predictors: their `.json`; HDF5 stores: the "
              "`provenance` attribute). A `+dirty` commit had uncommitted changes.", ""]
    return "\n".join(lines)
