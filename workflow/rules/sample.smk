# Stage 2: uniform architecture pools per search space, deduplicated.


rule sample_pool:
    conda:
        NASSTAGES_ENV
    output:
        LAYOUT.pool("{space}", "{pool}"),
    params:
        size=lambda w: config["pools"][w.space][w.pool]["size"],
        dedup=lambda w: config["pools"][w.space][w.pool].get("dedup", "iso"),
        seed=config["seed"],
    log:
        LAYOUT.log("pools/{space}/{pool}.log"),
    benchmark:
        LAYOUT.timing("pools/{space}/{pool}.tsv"),
    threads: rule_threads("sample_pool", 1)
    priority: 20  # quick, and the input of every later job: first
    resources:
        **rule_resources("sample_pool"),
    shell:
        "nasstages sample --space {wildcards.space} --name {wildcards.pool} --size {params.size}"
        " --dedup {params.dedup} --global-seed {params.seed} --out {output:q} > {log:q} 2>&1"
