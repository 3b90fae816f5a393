"""The workflow config: semantic checks (``checks``), what the Snakefile reads from it (``access``),
the pre-job filesystem checks (``preflight``) and the results layout they share (``layout``)."""

from nasstages.config.access import (
    ENCODER_NAMES,
    benchmark_budget,
    benchmark_datasets,
    benchmark_methods,
    benchmark_space,
    distance_pool_of,
    encoder_spaces,
    predictor_evaluation_settings,
    search_inputs,
    search_job_params,
    seeds_of,
    trained_benchmarks,
)
from nasstages.config.layout import Layout
from nasstages.config.checks import check_applicable, check_config
from nasstages.config.preflight import check_existing_results, check_results_folder

__all__ = ["ENCODER_NAMES", "Layout", "benchmark_budget", "benchmark_datasets", "benchmark_methods", "benchmark_space",
           "check_applicable", "check_config", "check_existing_results", "check_results_folder",
           "distance_pool_of", "encoder_spaces", "predictor_evaluation_settings", "search_inputs", "search_job_params",
           "seeds_of", "trained_benchmarks"]
