"""The paper's skip-type analysis: train every variant and its ANN twin, measure, judge, report.

:func:`run_analysis` trains the no-skip, DSC, ASC and mixed variants of one model, each as an SNN
and as its ANN twin, measures accuracy, per-layer firing rates, synaptic operations and energy,
judges the paper's claims 1 and 2 (:mod:`vision_bench.claims`) and writes the report
(:mod:`vision_bench.report`). It returns an :class:`~vision_bench.analysis_results.AnalysisReport`,
whose ``to_dict`` is the ``report.json`` layout. Settings: :mod:`vision_bench.config`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from snn_core.metrics import ActivityRecorder
from vision_bench.analysis_results import Activity, AnalysisReport, ModelResult, VariantResult
from vision_bench.claims import judge_claims
from vision_bench.config import AnalysisConfig
from vision_bench.data import load_frames
from vision_bench.models import VisionNetwork, build_vision_model
from vision_bench.report import write_report
from vision_bench.train import time_major, train


def layer_label(name: str) -> str:
    """``trunk.blocks.0.layers.0`` -> ``stem``; ``trunk.blocks.2.layers.1`` -> ``b2.l1``."""
    block, layer = map(int, re.fullmatch(r"trunk\.blocks\.(\d+)\.layers\.(\d+)", name).groups())
    return "stem" if block == 0 else f"b{block}.l{layer}"


def measure_activity(model: VisionNetwork, data: Dataset, samples: int, seed: int, batch_size: int = 32) -> Activity:
    """Firing rates, synaptic operations and energy per time step on a random subset of ``data``."""
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(data), size=min(samples, len(data)), replace=False))
    device = next(model.parameters()).device
    model.eval()
    steps = 0
    # No autocast: operation counts summed in float16 would overflow.
    with ActivityRecorder(model, spike_count=True) as recorder, torch.no_grad():
        for frames, _ in DataLoader(Subset(data, chosen.tolist()), batch_size=batch_size):
            model(time_major(frames, device))
            steps += frames.shape[0] * frames.shape[1]
    rates = recorder.firing_rates()
    per_layer = {layer_label(name): rates[name] for name in model.layer_names()}
    return Activity(
        firing_rates=per_layer,
        mean_firing_rate=float(np.mean([r for label, r in per_layer.items() if label != "stem"])),
        cost=recorder.model_cost(steps),
        spike_count_synops=recorder.by_count.synops(steps),
    )


def run_analysis(
    dataset: str,
    root: str | Path,
    config: AnalysisConfig,
    out_dir: str | Path,
    progress: bool = True,
    log: Callable[[str], None] | None = print,
) -> AnalysisReport:
    """Train every variant as SNN and ANN twin, measure them, judge the claims, write the report.

    Checkpoints go to ``out_dir/checkpoints`` and epoch logs to ``out_dir/logs``, so running the
    same command again after an interruption resumes where it stopped.

    Args:
        dataset: ``"cifar10dvs"``, ``"dvsgesture"`` or ``"synthetic"``.
        root: the data root (see :func:`vision_bench.data.load_frames`).
        config: data, model, training and analysis settings.
        out_dir: where the report, checkpoints and logs go.
        progress: show progress bars.
        log: receives each model's per-epoch line (None: silent).

    Returns:
        The report (also written as ``report.json`` and ``report.md``, with ``firing_rates.png``).
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    data = config.data
    train_set, test_set = (
        load_frames(dataset, root, split, data.time_bins, data.size, data.split_scheme, data.cache_dir, progress)
        for split in ("train", "test")
    )
    data_id = f"{train_set.cache_file.stem}+{test_set.cache_file.stem}"
    model_config = replace(config.model, num_classes=train_set.n_classes)
    variants: dict[str, VariantResult] = {}
    for variant in config.variants:
        results: dict[str, ModelResult] = {}
        for mode in ("snn", "ann"):
            model = build_vision_model(model_config, variant, mode, seed=config.train.seed)
            name = f"{variant}-{mode}"
            result = train(
                model,
                train_set,
                test_set,
                config.train,
                out_dir / "checkpoints" / f"{name}.pt",
                out_dir / "logs" / f"{name}.jsonl",
                progress,
                log,
                name,
                data_id,
            )
            results[mode] = ModelResult(
                # val_data was the test set: it is only scored, never used to select a model
                accuracy=result.val_accuracy,
                activity=measure_activity(model, test_set, config.activity_samples, config.train.seed, config.train.batch_size),
                train_samples_per_s=float(np.mean([h["samples_per_s"] for h in result.history])),
                train_seconds=float(sum(h["seconds"] for h in result.history)),
                device=result.history[-1]["device"],
            )
        variants[variant] = VariantResult(model.spec.topology, results["snn"], results["ann"])
    report = AnalysisReport(
        dataset=dataset,
        root=str(root),
        train_size=len(train_set),
        test_size=len(test_set),
        classes=tuple(train_set.classes),
        frame_shape=tuple(train_set.frame_shape),
        config=config,
        variants=variants,
        claims=judge_claims(variants, len(test_set)),
        runtime_s=time.perf_counter() - start,
    )
    write_report(report, out_dir)
    return report
