# Stage 3: pairwise distance matrices, computed in tiles (separate jobs) and merged.
# A tile is marked done only by existing (atomic write); changing a metric's parameters changes
# params and so reruns its tiles and merge.


rule distance_tile:
    conda:
        NASSTAGES_ENV
    input:
        pool=LAYOUT.pool("{space}", "{pool}"),
        embeddings=distance_embeddings,
    output:
        temp(LAYOUT.matrix_tile("{space}", "{metric}", "{pool}", "{i}", "{j}")),
    params:
        metric_params=distance_params,
        tiles=lambda w: config["distances"][w.space].get("tiles", 1),
        device=lambda w: config["distances"][w.space].get("device", "auto"),
    log:
        LAYOUT.log("distances/{space}/{metric}/{pool}/tile{i}_{j}.log"),
    benchmark:
        LAYOUT.timing("distances/{space}/{metric}/{pool}/tile{i}_{j}.tsv"),
    wildcard_constraints:
        i=r"\d+",
        j=r"\d+",
    threads: distance_tile_threads
    resources:
        **rule_resources("distance_tile"),
    priority: 10  # on the critical path: every BO job reading the matrix waits for all its tiles
    shell:
        "NUMBA_NUM_THREADS={threads} nasstages distances tile --space {wildcards.space} --metric {wildcards.metric}"
        " --params {params.metric_params:q} --pool {input.pool:q} --tiles {params.tiles}"
        " --tile {wildcards.i} {wildcards.j} --device {params.device} --out {output:q} > {log:q} 2>&1"


rule distance_matrix:
    conda:
        NASSTAGES_ENV
    input:
        pool=LAYOUT.pool("{space}", "{pool}"),
        embeddings=distance_embeddings,
        tiles=distance_tiles,
    output:
        LAYOUT.matrix("{space}", "{metric}", "{pool}"),
    params:
        metric_params=distance_params,
        tiles=lambda w: config["distances"][w.space].get("tiles", 1),
    log:
        LAYOUT.log("distances/{space}/{metric}/{pool}/merge.log"),
    benchmark:
        LAYOUT.timing("distances/{space}/{metric}/{pool}/merge.tsv"),
    threads: rule_threads("distance_matrix", 1)
    resources:
        **rule_resources("distance_matrix"),
    priority: 10
    shell:
        "nasstages distances merge --space {wildcards.space} --metric {wildcards.metric}"
        " --params {params.metric_params:q} --pool {input.pool:q} --tiles {params.tiles}"
        " --inputs {input.tiles:q} --out {output:q} > {log:q} 2>&1"
