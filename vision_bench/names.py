"""The names and numbers that ``vision-bench``'s options and help offer, in a module that imports nothing heavy.

The command line builds every subcommand's parser, for ``--help`` too, from these; importing them
must not import torch, tonic or numpy, which take seconds. The modules that act on them
(:mod:`vision_bench.data.datasets`, :mod:`vision_bench.data.split`,
:mod:`vision_bench.data.synthetic`) import them from here.
"""

from __future__ import annotations

DATASETS = ("cifar10dvs", "dvsgesture", "synthetic")
"""The data sets, by the name ``--dataset`` gives them."""

SPLIT_SCHEMES = {"cifar10dvs": ("9:1", "tebn"), "synthetic": ("9:1", "tebn"), "dvsgesture": ("subjects",)}
"""Each data set's train/test split schemes, its default first (:mod:`vision_bench.data.split`)."""

VALIDATION_SHARE = 0.1  # of each class of the training split, for selecting models (never the test split)

SYNTHETIC_STEPS = 100  # brightness updates per simulated recording (vision_bench.data.synthetic)
SYNTHETIC_STEP_US = 12_000  # 100 x 12 ms = 1.2 s, about the length of a CIFAR10-DVS recording
SYNTHETIC_DIFFICULTIES = ("easy", "hard")  # the simulated sets (vision_bench.data.synthetic.DIFFICULTIES)
