# Stage 1: normalize a tabular benchmark into one verified HDF5 store.


rule benchmark_store:
    conda:
        NASSTAGES_ENV
    output:
        LAYOUT.benchmark_store("{space}"),
    params:
        sources=lambda w: source_args(w.space),
    log:
        LAYOUT.log("benchmarks/{space}.log"),
    benchmark:
        LAYOUT.timing("benchmarks/{space}.tsv"),
    threads: rule_threads("benchmark_store", 1)
    priority: 20  # quick, and the input of every later job: first
    resources:
        **rule_resources("benchmark_store"),
    shell:
        "nasstages benchmarks fetch --space {wildcards.space} {params.sources}"
        " --out {output:q} 2>&1 | tee {log:q}"


# A trained benchmark (DARTS) keeps one verified data store per dataset, so adding a dataset
# never rebuilds (and so never reruns the searches of) the others.
rule trained_data_store:
    conda:
        NASSTAGES_ENV
    output:
        LAYOUT.trained_store("darts", "{dataset}"),
    params:
        data=lambda w: shlex.quote(str(config["benchmarks"]["darts"]["data"])),
        md5=lambda w: shlex.quote(json.dumps({k: v for k, v in (config["benchmarks"]["darts"].get("md5") or {}).items()
                                              if k == w.dataset})),
    log:
        LAYOUT.log("benchmarks/darts/{dataset}.log"),
    benchmark:
        LAYOUT.timing("benchmarks/darts/{dataset}.tsv"),
    threads: rule_threads("benchmark_store", 1)
    resources:
        **rule_resources("benchmark_store"),
    shell:
        "nasstages benchmarks fetch --space darts --data {params.data} --datasets {wildcards.dataset}"
        " --md5 {params.md5} --out {output:q} 2>&1 | tee {log:q}"
