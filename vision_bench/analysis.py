"""The paper's skip-type analysis: train every variant and its ANN twin, measure, judge, report.

Benmeziane et al. (2023) claim (docs/data.md): (1) both skip types raise a layer's firing rate,
addition-type (ASC) more, and ASC is more accurate than densenet-like concatenation (DSC);
(2) DSC is the more energy-efficient; and skip connections shrink the ANN-to-SNN accuracy drop.
:func:`run_analysis` trains the no-skip, DSC, ASC and mixed variants of one model, each as an SNN
and as its ANN twin, measures accuracy, per-layer firing rates, synaptic operations and energy,
and :func:`judge_claims` states for each claim whether it held on this run, with the numbers.

Settings come from a TOML file (:func:`load_config`) with the sections ``[data]``, ``[model]``,
``[train]`` and ``[analysis]``; an unknown key is an error, not a silently ignored typo.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from snn_core.atomic import atomic_path, write_text_atomic
from snn_core.config import read_toml
from snn_core.errors import InputError
from snn_core.metrics import ENERGY_PJ_PER_AC, ENERGY_PJ_PER_MAC, ActivityRecorder, footprint_bytes, layer_operations
from vision_bench.data import load_frames
from vision_bench.models import VARIANTS, VisionModelConfig, VisionSNN, build_vision_model
from vision_bench.train import TrainConfig, time_major, train


@dataclass(frozen=True)
class DataConfig:
    """How recordings become frames (see :func:`vision_bench.data.load_frames`)."""

    time_bins: int = 10
    size: int = 48
    split_scheme: str | None = None
    cache_dir: str | None = None


@dataclass(frozen=True)
class AnalysisConfig:
    """Everything an analysis run needs besides the data set and the output folder.

    Args:
        data: frame settings.
        model: the model shape (``num_classes`` is taken from the data).
        train: training settings, shared by every variant and mode.
        variants: the variants to train, from :data:`~vision_bench.models.VARIANTS`.
        activity_samples: test samples on which firing rates and operations are measured.
    """

    data: DataConfig = field(default_factory=DataConfig)
    model: VisionModelConfig = field(default_factory=VisionModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    variants: tuple[str, ...] = VARIANTS
    activity_samples: int = 200

    def to_dict(self) -> dict:
        return asdict(self)


# What each TOML section may hold, and the type each value must have ((list, item type) for arrays).
CONFIG_KEYS: dict[str, dict[str, type | tuple[type, type]]] = {
    "data": {"time_bins": int, "size": int, "split_scheme": str, "cache_dir": str},
    "model": {"family": str, "stem_width": int, "widths": (list, int), "depth": int, "beta": float,
              "threshold": float, "kernel_size": int, "pool": int},
    "train": {"epochs": int, "batch_size": int, "lr": float, "optimizer": str, "weight_decay": float,
              "seed": int, "device": str},
    "analysis": {"variants": (list, str), "activity_samples": int},
}


def _has_type(value: object, kind: type) -> bool:
    if isinstance(value, bool):  # TOML true/false is no number
        return kind is bool
    return isinstance(value, (int, float) if kind is float else kind)


def _check_type(path: Path, key: str, value: object, kind: type | tuple[type, type]) -> None:
    if isinstance(kind, tuple):
        if not (_has_type(value, kind[0]) and all(_has_type(item, kind[1]) for item in value)):
            raise InputError(path, key, f"an array of {kind[1].__name__} values, not {value!r}")
    elif not _has_type(value, kind):
        raise InputError(path, key, f"a value of type {kind.__name__}, not {value!r}")


def load_config(path: str | Path) -> AnalysisConfig:
    """Read an analysis configuration; every key is optional, unknown keys are refused.

    Raises:
        InputError: unreadable file, invalid TOML, an unknown section or key, a wrong type or
            an invalid value, naming the key.
    """
    path = Path(path)
    raw = read_toml(path)
    sections: dict[str, dict] = {}
    for section, table in raw.items():
        if section not in CONFIG_KEYS or not isinstance(table, dict):
            raise InputError(path, section, f"one of the sections [{'], ['.join(CONFIG_KEYS)}]")
        for key, value in table.items():
            if key not in CONFIG_KEYS[section]:
                raise InputError(path, f"{section}.{key}", f"one of the keys {', '.join(CONFIG_KEYS[section])}")
            _check_type(path, f"{section}.{key}", value, CONFIG_KEYS[section][key])
        sections[section] = table
    analysis = dict(sections.get("analysis", {}))
    variants = tuple(analysis.pop("variants", VARIANTS))
    if not variants or len(set(variants)) != len(variants) or not set(variants) <= set(VARIANTS):
        raise InputError(path, "analysis.variants", f"distinct names from {', '.join(VARIANTS)}, not {list(variants)}")
    parts = {}
    for section, kind in (("data", DataConfig), ("model", VisionModelConfig), ("train", TrainConfig)):
        try:
            parts[section] = kind(**sections.get(section, {}))
        except ValueError as err:
            raise InputError(path, f"[{section}]", f"valid settings ({err})") from err
    if analysis.get("activity_samples", 1) < 1:
        raise InputError(path, "analysis.activity_samples", "a positive number of samples")
    return AnalysisConfig(**parts, variants=variants, **analysis)


class SpikeCountRecorder(ActivityRecorder):
    """An :class:`ActivityRecorder` that also counts integer inputs as that many accumulates.

    NeuroBench counts any non-binary input as MACs, so a layer fed the ASC sum of two spike
    maps (values 0, 1, 2) is charged 4.6 pJ per operation. Event-driven hardware would add each
    incoming spike instead, since W(a + b) = Wa + Wb: one accumulate per spike and synapse.
    Claim 2 is judged under both counts, so that its verdict is not an artefact of one of them.
    """

    def reset(self) -> None:
        super().reset()
        self.count_acs = 0
        self.count_macs = 0

    def _on_synapse(self, module: torch.nn.Module, args: tuple, output: torch.Tensor) -> None:
        super()._on_synapse(module, args, output)
        x = args[0].to(torch.float32)
        if bool(((x >= 0) & (x == x.round())).all()):
            weights = (module.weight != 0).to(torch.float32)
            if isinstance(module, torch.nn.Linear):
                self.count_acs += int(round(float((x @ weights.T).sum())))
            else:
                out = torch.nn.functional.conv2d(x, weights, None, module.stride, module.padding, module.dilation, module.groups)
                self.count_acs += int(round(float(out.sum())))
        else:
            self.count_macs += layer_operations(module, x)


def layer_label(name: str) -> str:
    """``trunk.blocks.0.layers.0`` -> ``stem``; ``trunk.blocks.2.layers.1`` -> ``b2.l1``."""
    block, layer = map(int, re.fullmatch(r"trunk\.blocks\.(\d+)\.layers\.(\d+)", name).groups())
    return "stem" if block == 0 else f"b{block}.l{layer}"


def measure_activity(model: VisionSNN, data: Dataset, samples: int, seed: int, batch_size: int = 32) -> dict:
    """Firing rates, synaptic operations and energy per time step on a random subset of ``data``.

    Returns:
        ``firing_rates`` (layer label -> rate), ``mean_firing_rate`` (over the skip blocks'
        layers, the ones skips feed), ``activation_sparsity``, ``synops`` (dense, effective
        MACs and ACs per step per sample), ``energy_pj_per_step`` (NeuroBench counts),
        ``energy_pj_per_step_spike_count`` (integer inputs as accumulates) and ``footprint_bytes``.
    """
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(data), size=min(samples, len(data)), replace=False))
    device = next(model.parameters()).device
    model.eval()
    steps = 0
    # No autocast: operation counts summed in float16 would overflow.
    with SpikeCountRecorder(model) as recorder, torch.no_grad():
        for frames, _ in DataLoader(Subset(data, chosen.tolist()), batch_size=batch_size):
            model(time_major(frames, device))
            steps += frames.shape[0] * frames.shape[1]
    rates = recorder.firing_rates()
    per_layer = {layer_label(name): rates[name] for name in model.layer_names()}
    ops = recorder.synops(steps)
    spike_count_pj = (recorder.count_macs * ENERGY_PJ_PER_MAC + recorder.count_acs * ENERGY_PJ_PER_AC) / steps
    return {
        "firing_rates": per_layer,
        "mean_firing_rate": float(np.mean([r for label, r in per_layer.items() if label != "stem"])),
        "activation_sparsity": recorder.activation_sparsity(),
        "synops": ops.to_dict(),
        "energy_pj_per_step": ops.energy_pj,
        "energy_pj_per_step_spike_count": spike_count_pj,
        "footprint_bytes": footprint_bytes(model),
    }


def _accuracy_se(*accuracies: float, n: int) -> float:
    """Standard error of a sum or difference of test accuracies, each binomial over n samples."""
    return math.sqrt(sum(p * (1 - p) / n for p in accuracies))


def _noise_note(difference: float, se: float) -> str:
    if abs(difference) < 2 * se:
        return f"inconclusive: the difference is within 2 standard errors ({2 * se:.3f}) of test-set sampling"
    return ""


def judge_claims(rows: dict[str, dict], n_test: int) -> list[dict]:
    """State for each of the paper's claims whether it held on these results.

    Args:
        rows: per variant, ``{"snn": measures, "ann": measures, "drop": float}`` as
            :func:`run_analysis` builds them (measures hold ``accuracy``, ``mean_firing_rate``,
            ``energy_pj_per_step`` and ``energy_pj_per_step_spike_count``).
        n_test: test-set size, for the sampling error of accuracy differences.

    Returns:
        One record per claim: ``id``, ``claim``, ``held`` (True, False, or None when the run
        lacks a variant the claim needs), ``numbers`` and ``note``.
    """

    def claim(cid: str, text: str, needs: tuple[str, ...], judge) -> dict:
        if not set(needs) <= set(rows):
            return {"id": cid, "claim": text, "held": None, "numbers": {}, "note": f"not tested: needs variants {', '.join(needs)}"}
        held, numbers, note = judge()
        return {"id": cid, "claim": text, "held": bool(held), "numbers": numbers, "note": note}

    snn = {v: row["snn"] for v, row in rows.items()}
    rate = {v: m["mean_firing_rate"] for v, m in snn.items()}
    acc = {v: m["accuracy"] for v, m in snn.items()}

    def rates_raised():
        return rate["dsc"] > rate["none"] and rate["asc"] > rate["none"], {f"firing_rate_{v}": rate[v] for v in ("none", "dsc", "asc")}, ""

    def asc_raises_more():
        return rate["asc"] > rate["dsc"], {"firing_rate_asc": rate["asc"], "firing_rate_dsc": rate["dsc"]}, ""

    def asc_more_accurate():
        se = _accuracy_se(acc["asc"], acc["dsc"], n=n_test)
        return acc["asc"] > acc["dsc"], {"snn_accuracy_asc": acc["asc"], "snn_accuracy_dsc": acc["dsc"]}, _noise_note(acc["asc"] - acc["dsc"], se)

    def dsc_cheaper(key: str):
        def judge():
            return snn["dsc"][key] < snn["asc"][key], {f"{key}_dsc": snn["dsc"][key], f"{key}_asc": snn["asc"][key]}, ""
        return judge

    skip_variants = [v for v in rows if v != "none"]

    def drop_shrinks():
        drops = {v: rows[v]["drop"] for v in rows}
        worst = max(skip_variants, key=lambda v: drops[v])
        se = _accuracy_se(rows[worst]["ann"]["accuracy"], acc[worst], rows["none"]["ann"]["accuracy"], acc["none"], n=n_test)
        held = all(drops[v] < drops["none"] for v in skip_variants)
        return held, {f"drop_{v}": drops[v] for v in rows}, _noise_note(drops[worst] - drops["none"], se)

    return [
        claim("1a", "both skip types raise the firing rate (SNN mean over the skip blocks' layers)", ("none", "dsc", "asc"), rates_raised),
        claim("1b", "ASC raises the firing rate more than DSC", ("dsc", "asc"), asc_raises_more),
        claim("1c", "ASC is more accurate than DSC (SNN test accuracy)", ("dsc", "asc"), asc_more_accurate),
        claim("2", "DSC is more energy-efficient than ASC (NeuroBench operation counts)", ("dsc", "asc"), dsc_cheaper("energy_pj_per_step")),
        claim("2b", "DSC is more energy-efficient than ASC (each input spike counted as accumulates)", ("dsc", "asc"),
              dsc_cheaper("energy_pj_per_step_spike_count")),
        claim("3", "skip connections shrink the ANN-to-SNN accuracy drop (every skip variant vs none)", ("none", "dsc", "asc"), drop_shrinks),
    ]


def run_analysis(
    dataset: str,
    root: str | Path,
    config: AnalysisConfig,
    out_dir: str | Path,
    progress: bool = True,
    log: Callable[[str], None] | None = print,
) -> dict:
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
    frames = {
        split: load_frames(dataset, root, split, data.time_bins, data.size, data.split_scheme, data.cache_dir, progress)
        for split in ("train", "test")
    }
    train_set, test_set = frames["train"], frames["test"]
    data_id = f"{train_set.cache_file.stem}+{test_set.cache_file.stem}"
    model_config = replace(config.model, num_classes=train_set.n_classes)
    rows: dict[str, dict] = {}
    for variant in config.variants:
        row: dict = {}
        for mode in ("snn", "ann"):
            model = build_vision_model(model_config, variant, mode, seed=config.train.seed)
            name = f"{variant}-{mode}"
            result = train(model, train_set, test_set, config.train, out_dir / "checkpoints" / f"{name}.pt",
                           out_dir / "logs" / f"{name}.jsonl", progress, log, name, data_id)
            measures = measure_activity(model, test_set, config.activity_samples, config.train.seed, config.train.batch_size)
            row[mode] = {
                "accuracy": result.test_accuracy,
                **measures,
                "train_samples_per_s": float(np.mean([h["samples_per_s"] for h in result.history])),
                "train_seconds": float(sum(h["seconds"] for h in result.history)),
                "device": result.history[-1]["device"],
            }
        row["topology"] = model.spec.topology
        row["drop"] = row["ann"]["accuracy"] - row["snn"]["accuracy"]
        rows[variant] = row
    report = {
        "dataset": dataset,
        "root": str(root),
        "data": {"train": len(train_set), "test": len(test_set), "classes": list(train_set.classes),
                 "frame_shape": list(train_set.frame_shape)},
        "config": config.to_dict(),
        "variants": rows,
        "claims": judge_claims(rows, len(test_set)),
        "runtime_s": time.perf_counter() - start,
    }
    write_report(report, out_dir)
    return report


ENERGY_CAVEAT = (
    f"Energy per time step and sample from effective synaptic operations at 45 nm (Horowitz 2014): "
    f"{ENERGY_PJ_PER_MAC} pJ per MAC, {ENERGY_PJ_PER_AC} pJ per AC. It ignores memory traffic (weights, membrane "
    "potentials and spikes moved to and from memory), which often dominates on real hardware. NeuroBench counts "
    "the operations on any non-binary input as MACs: the stem (event-count frames), the classifier (averaged "
    "features) and every layer fed an ASC sum of spike maps (values 0, 1, 2, ...); the spike-count column counts "
    "an integer input of k as k accumulates instead. Where an ASC joins layers of different widths, its 1 x 1 "
    "projection makes the sum real-valued, hence MACs under both counts."
)


def _kilo(x: float) -> str:
    return f"{x / 1e3:,.1f}k"


def results_table(report: dict) -> str:
    """The main table (Markdown): accuracy, drop, firing rate, operations and energy per variant."""
    lines = [
        "| variant | topology | SNN acc | ANN acc | drop | SNN firing rate | dense ops | eff. MACs | eff. ACs "
        "| SNN energy (nJ) | SNN energy, spike count (nJ) | ANN energy (nJ) | SNN params (KB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for variant, row in report["variants"].items():
        snn, ann = row["snn"], row["ann"]
        ops = snn["synops"]
        lines.append(
            f"| {variant} | `{row['topology']}` | {snn['accuracy']:.3f} | {ann['accuracy']:.3f} | {row['drop']:+.3f} "
            f"| {snn['mean_firing_rate']:.4f} | {_kilo(ops['dense'])} | {_kilo(ops['effective_macs'])} "
            f"| {_kilo(ops['effective_acs'])} | {snn['energy_pj_per_step'] / 1e3:.2f} "
            f"| {snn['energy_pj_per_step_spike_count'] / 1e3:.2f} | {ann['energy_pj_per_step'] / 1e3:.2f} "
            f"| {snn['footprint_bytes'] / 1024:.1f} |"
        )
    return "\n".join(lines)


def claims_table(report: dict) -> str:
    """One Markdown row per claim: held or not, with its numbers."""
    verdict = {True: "**held**", False: "**did not hold**", None: "not tested"}
    lines = ["| claim | verdict | numbers | note |", "|---|---|---|---|"]
    for c in report["claims"]:
        numbers = ", ".join(f"{k} {v:.4g}" for k, v in c["numbers"].items())
        lines.append(f"| {c['id']}: {c['claim']} | {verdict[c['held']]} | {numbers} | {c['note']} |")
    return "\n".join(lines)


def render_markdown(report: dict) -> str:
    """The whole report as Markdown, the figure linked as ``firing_rates.png``."""
    cfg, data = report["config"], report["data"]
    model, training = cfg["model"], cfg["train"]
    variants = list(report["variants"])
    layers = list(next(iter(report["variants"].values()))["snn"]["firing_rates"])
    rate_rows = [
        f"| {layer} | " + " | ".join(f"{report['variants'][v]['snn']['firing_rates'][layer]:.4f}" for v in variants) + " |"
        for layer in layers
    ]
    return "\n".join([
        f"# Skip connections in SNNs: analysis on {report['dataset']}",
        "",
        f"Data: {data['train']} training and {data['test']} test recordings from `{report['root']}`, frames "
        f"{' x '.join(map(str, data['frame_shape']))} (T, polarity, H, W). Model: {model['family']}-like, stem "
        f"{model['stem_width']} channels, blocks {list(model['widths'])} x {model['depth']} layers. Training: "
        f"{training['epochs']} epochs, {training['optimizer']} lr {training['lr']}, batch {training['batch_size']}, "
        f"seed {training['seed']}. Runtime {report['runtime_s']:.0f} s.",
        "",
        "## Results",
        "",
        "Accuracy: test set, last epoch (no model selection on the test set). Drop: ANN twin minus SNN. "
        "Firing rate: mean over the skip blocks' layers. Operations and energy: per time step and sample.",
        "",
        results_table(report),
        "",
        "## The paper's claims on this run",
        "",
        claims_table(report),
        "",
        "## Per-layer firing rate (SNN, spikes per neuron per step)",
        "",
        "| layer | " + " | ".join(variants) + " |",
        "|---|" + "---|" * len(variants),
        *rate_rows,
        "",
        "![per-layer firing rate by variant](firing_rates.png)",
        "",
        "## Caveats",
        "",
        f"- {ENERGY_CAVEAT}",
        "- One training seed per model: accuracy differences of a few points are within seed-to-seed variation.",
        "",
    ])


def plot_firing_rates(report: dict, path: str | Path) -> None:
    """Line plot of per-layer SNN firing rate, one line per variant (matplotlib, Agg)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    for variant, row in report["variants"].items():
        rates = row["snn"]["firing_rates"]
        ax.plot(list(rates), list(rates.values()), marker="o", label=f"{variant} ({row['topology']})")
    ax.set_xlabel("layer")
    ax.set_ylabel("firing rate (spikes / neuron / step)")
    ax.set_title(f"Per-layer firing rate by skip variant, {report['dataset']}")
    ax.grid(alpha=0.3)
    ax.legend()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=120)


def write_report(report: dict, out_dir: str | Path) -> None:
    """Write ``report.json``, ``report.md`` and ``firing_rates.png`` atomically into ``out_dir``."""
    out_dir = Path(out_dir)
    plot_firing_rates(report, out_dir / "firing_rates.png")
    write_text_atomic(out_dir / "report.json", json.dumps(report, indent=2) + "\n")
    write_text_atomic(out_dir / "report.md", render_markdown(report))
