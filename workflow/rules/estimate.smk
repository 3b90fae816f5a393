# Stage 6b: zero-shot estimators. Every configured proxy scores every architecture of a pool, in
# tiles (separate jobs; GPU when present), merged per (proxy, pool); then the diagnosis ranks all
# estimators (and the benchmark's 12-epoch accuracies) against the 200-epoch mean accuracy.


rule estimate_tile:
    conda:
        NASSTAGES_ENV
    input:
        pool=LAYOUT.pool("{space}", "{pool}"),
    output:
        temp(LAYOUT.estimates_tile("{space}", "{proxy}", "{pool}", "{i}")),
    wildcard_constraints:
        i=r"\d+",
    params:
        tiles=lambda w: estimate_settings(w.space).get("tiles", 1),
        data=lambda w: estimate_data_args(w.space, w.proxy),
        device=lambda w: estimate_settings(w.space).get("device", "auto"),
        global_seed=config["seed"],
    log:
        LAYOUT.log("estimates/{space}/{proxy}/{pool}/tile{i}.log"),
    benchmark:
        LAYOUT.timing("estimates/{space}/{proxy}/{pool}/tile{i}.tsv"),
    threads: rule_threads("estimate_tile", 1)
    resources:
        **rule_resources("estimate_tile"),
    shell:
        "nasstages estimate tile --space {wildcards.space} --proxy {wildcards.proxy} --pool {input.pool:q}"
        " --tiles {params.tiles} --tile {wildcards.i} {params.data} --device {params.device}"
        " --threads {threads} --global-seed {params.global_seed} --out {output:q} > {log:q} 2>&1"


rule estimate_merge:
    conda:
        NASSTAGES_ENV
    input:
        estimate_tiles,
    output:
        LAYOUT.estimates("{space}", "{proxy}", "{pool}"),
    log:
        LAYOUT.log("estimates/{space}/{proxy}/{pool}/merge.log"),
    benchmark:
        LAYOUT.timing("estimates/{space}/{proxy}/{pool}/merge.tsv"),
    resources:
        **rule_resources("estimate_merge"),
    shell:
        "nasstages estimate merge --space {wildcards.space} --proxy {wildcards.proxy} --inputs {input:q}"
        " --out {output:q} > {log:q} 2>&1"


rule estimate_diagnose:
    conda:
        NASSTAGES_ENV
    input:
        store=LAYOUT.benchmark_store("{benchmark}"),
        estimates=lambda w: [LAYOUT.estimates(w.space, proxy, w.pool)
                             for proxy in estimate_settings(w.space)["proxies"]],
    output:
        LAYOUT.diagnosis("{space}", "{benchmark}", "{dataset}", "{pool}"),
    log:
        LAYOUT.log("estimates/{space}/diagnosis_{benchmark}_{dataset}_{pool}.log"),
    benchmark:
        LAYOUT.timing("estimates/{space}/diagnosis_{benchmark}_{dataset}_{pool}.tsv"),
    resources:
        **rule_resources("estimate_merge"),
    shell:
        "nasstages estimate diagnose --benchmark {wildcards.benchmark} --store {input.store:q}"
        " --dataset {wildcards.dataset:q} --pool-name {wildcards.pool} --estimates {input.estimates:q}"
        " --out {output:q} > {log:q} 2>&1"
