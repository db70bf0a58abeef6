"""What the skip-type analysis returns (:func:`vision_bench.analysis.run_analysis`): frozen
records whose ``to_dict`` is the JSON report, ``report.json``, apart from the code that judges
(:mod:`vision_bench.claims`) and renders (:mod:`vision_bench.report`) them."""

from __future__ import annotations

from dataclasses import dataclass

from snn_core.metrics import ModelCost, SynapticOperations
from vision_bench.config import AnalysisConfig
from vision_bench.verdicts import Claim


@dataclass(frozen=True)
class Activity:
    """What a model did on test samples, per time step and sample.

    Args:
        firing_rates: layer label (:func:`layer_label`) -> share of non-zero outputs.
        mean_firing_rate: mean over the skip blocks' layers, the ones skips feed.
        cost: NeuroBench's complexity metrics (operations counted the NeuroBench way).
        spike_count_synops: the operations with an integer input of k counted as k accumulates.
    """

    firing_rates: dict[str, float]
    mean_firing_rate: float
    cost: ModelCost
    spike_count_synops: SynapticOperations

    def energy_pj_per_step(self, spike_count: bool = False) -> float:
        """Energy per step from the NeuroBench counts, or from the spike counts."""
        return (self.spike_count_synops if spike_count else self.cost.synops).energy_pj


@dataclass(frozen=True)
class ModelResult:
    """One trained model, an SNN or its ANN twin: test accuracy, activity and training speed."""

    accuracy: float
    activity: Activity
    train_samples_per_s: float
    train_seconds: float
    device: str

    def to_dict(self) -> dict:
        a = self.activity
        return {
            "accuracy": self.accuracy,
            "firing_rates": a.firing_rates,
            "mean_firing_rate": a.mean_firing_rate,
            "activation_sparsity": a.cost.activation_sparsity,
            "connection_sparsity": a.cost.connection_sparsity,
            "synops": a.cost.synops.to_dict(),
            "energy_pj_per_step": a.energy_pj_per_step(),
            "energy_pj_per_step_spike_count": a.energy_pj_per_step(spike_count=True),
            "footprint_bytes": a.cost.footprint_bytes,
            "train_samples_per_s": self.train_samples_per_s,
            "train_seconds": self.train_seconds,
            "device": self.device,
        }


@dataclass(frozen=True)
class VariantResult:
    """One variant: its topology, the SNN and the ANN twin."""

    topology: str
    snn: ModelResult
    ann: ModelResult

    @property
    def drop(self) -> float:
        """ANN-to-SNN accuracy drop (ANN twin minus SNN)."""
        return self.ann.accuracy - self.snn.accuracy

    def to_dict(self) -> dict:
        return {"snn": self.snn.to_dict(), "ann": self.ann.to_dict(), "topology": self.topology, "drop": self.drop}


@dataclass(frozen=True)
class AnalysisReport:
    """A whole analysis run: data, settings, every variant, the claims' verdicts."""

    dataset: str
    root: str
    train_size: int
    test_size: int
    classes: tuple[str, ...]
    frame_shape: tuple[int, ...]
    config: AnalysisConfig
    variants: dict[str, VariantResult]
    claims: tuple[Claim, ...]
    runtime_s: float

    def to_dict(self) -> dict:
        """The ``report.json`` layout."""
        return {
            "dataset": self.dataset,
            "root": self.root,
            "data": {
                "train": self.train_size,
                "test": self.test_size,
                "classes": list(self.classes),
                "frame_shape": list(self.frame_shape),
            },
            "config": self.config.to_dict(),
            "variants": {v: r.to_dict() for v, r in self.variants.items()},
            "claims": [c.to_dict() for c in self.claims],
            "runtime_s": self.runtime_s,
        }
