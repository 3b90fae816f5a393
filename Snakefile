# nasstages workflow: benchmarks -> sample -> distances / pretrain -> search -> evaluate -> report.
# Each rule calls one `nasstages` subcommand and names only its inputs and outputs.
import json
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("8.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"  # `snakemake --report report.html`: figures and tables by stage


validate(config, "workflow/schemas/config.schema.yaml")

from nasstages.config import (  # noqa: E402
    ENCODER_NAMES,
    Layout,
    benchmark_budget,
    benchmark_datasets,
    benchmark_methods,
    benchmark_space,
    check_config,
    distance_pool_of,
    check_existing_results,
    predictor_evaluation_settings,
    check_results_folder,
    search_inputs,
    search_job_params,
    seeds_of,
    trained_benchmarks,
)
from nasstages.distances import DISTANCES, ENCODER_OF_METRIC  # noqa: E402
from nasstages.errors import ConfigError  # noqa: E402
from nasstages.report.tables import table_layout  # noqa: E402

check_config(config)
check_results_folder(config["results"])
check_existing_results(config)  # ~1 s (matrices hashed): a corrupt shared stage file fails here, before any job

LAYOUT = Layout(config["results"])  # every stage file's path (nasstages/config/layout.py)
TRAINED_BENCHMARKS = trained_benchmarks()  # from the benchmark plugins: their own search rule and evaluate stage


include: "workflow/rules/common.smk"
include: "workflow/rules/benchmarks.smk"
include: "workflow/rules/sample.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/distances.smk"
include: "workflow/rules/search.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/estimate.smk"
include: "workflow/rules/report.smk"


onstart:
    precompile_package()


localrules:
    all,


rule all:
    input:
        pool_targets(),
        distance_targets(),
        encoder_targets(),
        encoder_quality_targets(),
        predictor_targets(),
        search_targets(),
        evaluate_targets(),
        estimate_targets(),
        diagnosis_targets(),
        report_targets(),
