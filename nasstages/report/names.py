"""Display names for methods, benchmarks and datasets, as the NAS papers print them."""

METHOD_NAMES = {
    "rs": "Random search",
    "re": "Regularized evolution",
    "hotnas": "HOTNAS",
    "nasbot": "NASBOT",
    "bo_edit": "BO (edit kernel)",
    "hotnas_whole": "HOTNAS (whole space)",
    "nasbot_whole": "NASBOT (whole space)",
    "nasbot_otmann": "NASBOT, one OTMANN distance (ours)",
    "nasbot_direct": "NASBOT, DIRECT likelihood search (the reference's fit)",
    "nasbot_otmann_whole": "NASBOT, one OTMANN distance, whole space (ours)",
    "bo_edit_whole": "BO-edit (whole space)",
    "hotnas_joint": "HOTNAS, joint-repair posterior",
    "nasbot_joint": "NASBOT, joint-repair posterior",
    "nasbot_pool": "NASBOT, Algorithm 1 pool (ours)",
    "nasbot_earlier": "NASBOT, earlier setting (ours: pool, k² masses)",
    "twnas_1gram": "TW-NAS, 1-gram op tree",
    "twnas": "TW-NAS",
    "twnas_shared": "TW-NAS, one length-scale (ours)",
    "twnas_kdpp_shared": "TW-NAS k-DPP, one length-scale (ours, batch 5)",
    "twnas_kdpp": "TW-NAS k-DPP (batch 5)",
    "twnas_kdpp_corr": "TW-NAS k-DPP, correlation L (ours, batch 5)",
    "anasod_rs": "ANASOD-RS",
    "anasod_biased_rs": "ANASOD biased RS",
    "anasod_bo": "ANASOD-BO",
    "bananas": "BANANAS",
    "bananas_fast": "BANANAS, fast setting (ours)",
    "arch2vec_bo": "arch2vec-BO",
    "arch2vec_bo_fast": "arch2vec-BO, earlier setting (ours)",
    # configs/nb201_arch2vec_ablation.yaml: one difference of the earlier setting at a time
    "a2vbo_batch5": "arch2vec-BO, batches of 5",
    "a2vbo_dngo_fast": "arch2vec-BO, DNGO 50 units x 500 full-batch epochs",
    "a2vbo_normalized": "arch2vec-BO, standardized targets",
    "a2vbo_incumbent": "arch2vec-BO, EI against the incumbent",
    "arch2vec_rl": "arch2vec-RL",
    "arch2vec_rl_ema": "arch2vec-RL, earlier setting (ours)",
    "gates_predictor": "GATES predictor search",
    "gates_predictor_node": "GATES predictor search, op-on-node cell",
}
BENCHMARK_NAMES = {"nb201": "NAS-Bench-201", "tnb101_micro": "TransNAS-Bench-101 micro",
                   "tnb101_macro": "TransNAS-Bench-101 macro", "darts": "DARTS",
                   "nb101": "NAS-Bench-101"}
DATASET_NAMES = {"cifar10-valid": "CIFAR-10", "cifar100": "CIFAR-100", "ImageNet16-120": "ImageNet16-120",
                 "class_scene": "Scene", "class_object": "Object", "room_layout": "Layout", "jigsaw": "Jigsaw",
                 "segmentsemantic": "Segment.", "normal": "Normal", "autoencoder": "Autoenc.",
                 "cifar10": "CIFAR-10"}


def method_name(key: str) -> str:
    return METHOD_NAMES.get(key, key)


def benchmark_name(key: str) -> str:
    return BENCHMARK_NAMES.get(key, key)


def dataset_name(key: str) -> str:
    return DATASET_NAMES.get(key, key)
