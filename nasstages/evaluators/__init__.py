"""Evaluators that train networks instead of looking them up: the DARTS space's CIFAR trainer
(data reading, the network builder, the resumable training loop) behind the Benchmark interface."""
