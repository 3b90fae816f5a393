# Stage 6: final evaluation (DARTS): each search run's best genotype retrained from scratch under
# benchmarks.darts.final, `final_replicates` times (seeds derived from the global seed and the
# replicate, shared by all methods). Epoch checkpoints under <json stem>.train/ make it resumable.


rule evaluate:
    conda:
        NASSTAGES_ENV
    input:
        store=LAYOUT.trained_store("{benchmark}", "{dataset}"),
        csv=LAYOUT.search_log("{benchmark}", "{dataset}", "{method}", "{seed}"),
    output:
        LAYOUT.evaluation("{benchmark}", "{dataset}", "{method}", "{seed}", "{replicate}"),
    wildcard_constraints:
        benchmark="|".join(TRAINED_BENCHMARKS),
        replicate=r"\d+",
    params:
        protocol=lambda w: json.dumps(config["benchmarks"][w.benchmark].get("final") or {}, sort_keys=True),
        device=lambda w: config["benchmarks"][w.benchmark].get("device", "auto"),
        global_seed=config["seed"],
    log:
        LAYOUT.log("evaluate/{benchmark}/{dataset}/{method}/seed{seed}/replicate{replicate}.log"),
    benchmark:
        LAYOUT.timing("evaluate/{benchmark}/{dataset}/{method}/seed{seed}/replicate{replicate}.tsv"),
    threads: rule_threads("evaluate", 2)
    resources:
        **rule_resources("evaluate"),
    shell:
        "nasstages evaluate --store {input.store:q} --search-csv {input.csv:q} --dataset {wildcards.dataset:q}"
        " --protocol {params.protocol:q} --replicate {wildcards.replicate} --device {params.device}"
        " --threads {threads} --global-seed {params.global_seed} --out {output:q} > {log:q} 2>&1"
