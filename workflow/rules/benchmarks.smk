# Stage 1: normalize a tabular benchmark into one verified HDF5 store.
import shlex


def source_args(space):
    """--mirror/--official options for the configured (non-empty) sources, in trial order; for a
    trained benchmark (DARTS) the archives' folder, the datasets searched and any md5 overrides."""
    sources = config["benchmarks"][space]
    if space in TRAINED_BENCHMARKS:
        datasets = benchmark_datasets(config["search"], space) if space in config["search"]["benchmarks"] else []
        return (f"--data {shlex.quote(str(sources['data']))} --datasets {' '.join(map(shlex.quote, datasets))}"
                f" --md5 {shlex.quote(json.dumps(sources.get('md5') or {}))}")
    return " ".join(
        f"--{key} {shlex.quote(str(sources[key]))}" for key in ("mirror", "official") if sources.get(key)
    )


rule benchmark_store:
    output:
        f"{R}/benchmarks/{{space}}.h5",
    params:
        sources=lambda w: source_args(w.space),
    log:
        f"{R}/logs/benchmarks/{{space}}.log",
    threads: rule_threads("benchmark_store", 1)
    resources:
        **rule_resources("benchmark_store"),
    shell:
        "nasstages benchmarks fetch --space {wildcards.space} {params.sources}"
        " --out {output:q} 2>&1 | tee {log:q}"
