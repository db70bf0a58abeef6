"""The SNN decoder's preset for a neuromorphic core: ``snn_small``."""

from __future__ import annotations

from collections.abc import Sequence

from .snn import SNNDecoder


class SmallSNNDecoder(SNNDecoder):
    """The SNN decoder sized for a neuromorphic core: a skip-connected block of under 30 KB, the
    budget of the BioCAS 2024 tinyRSNN (27 KB, R2 0.66 on the NeuroBench primate-reaching
    sessions, docs/data.md).

    Same parameters as :class:`SNNDecoder`, other defaults: one block, not an ensemble of four, of
    :class:`SNNDecoder`'s three layers of up to 32 LIF neurons, the third also reading the first's
    spikes (DSC, topology ``"3-001"``), within a ``footprint_limit`` of 30 KB. On a 96-channel array that is 32 wide: 6.3 k parameters, 25 KB in
    float32. The input layer grows with the channels, so on more channels the layers narrow
    until the block fits (:mod:`~bmi_decoder.decoders.snn_footprint`; on 192 channels the 32-wide
    block would be 37 KB). A DSC keeps every layer's input binary, so all its synaptic operations
    stay ACs (an ASC sum of spikes would make them MACs). It is feed-forward by default, so the
    fused LIF kernels train it; ``recurrent=True`` with ``hidden=[24, 24]``, ``topology="2-1"`` is
    the tinyRSNN-like recurrent block of the same size, whose step-by-step BPTT costs several times
    the CPU time per epoch. With ``topology="auto"`` the widths are sized for ``"3-001"`` and it
    chooses only among candidates within the limit at those widths, so the choice never costs the
    preset its size.

    The core's other budget is synaptic operations per step: it trains under a ``synop_budget``
    of 450 effective ACs per step (:mod:`~bmi_decoder.decoders.snn_synops`), under the 500 it aims
    for, since the count on a test segment lands a little off the training one. Its initial
    gain, decay and schedule are :class:`SNNDecoder`'s: the block was tuned as the preset first
    (a gain of 1.5, not 3, raised validation R2 on every one of eight simulated sessions of
    ``benchmarks/decoder_comparison.py``, and its validation R2 was still rising at epoch 30 on
    192-channel sessions, hence 60 epochs with a patience of 15), and the membrane decay of 0.95,
    chosen for the default ensemble, raised the preset's mean validation R2 over the ten
    sessions as well (docs/results/snn_defaults.md). Unlike ``snn`` it trains without a
    moving average of the weights, which did not raise its test R2 (docs/results/decoder_comparison.md,
    ``snn_small (averaged)``).
    """

    name = "snn_small"

    def __init__(
        self,
        hidden: Sequence[int] = (32, 32, 32),
        topology: str | None = "3-001",
        recurrent: bool = False,
        beta: float = 0.95,
        learn_beta: bool = False,
        readout_beta: float = 0.95,
        weight_gain: float = 1.5,
        recurrent_gain: float = 0.1,
        recurrent_grad: float = 0.0,
        grad_clip: float = 1.0,
        weight_average: float = 0.0,
        chunk_bins: int = 128,
        burn_in_bins: int = 16,
        lr: float = 2e-3,
        batch_size: int = 8,
        max_epochs: int = 60,
        patience: int = 15,
        seed: int = 0,
        progress: bool = True,
        progress_file: str | None = None,
        device: str = "auto",
        candidates: Sequence[str] | None = None,
        auto_seeds: int = 1,
        footprint_limit: int | None = 30 * 1024,  # the tinyRSNN's budget, bytes of float32 parameters
        ensemble: int = 1,
        synop_budget: float = 450.0,
    ) -> None:
        super().__init__(
            hidden,
            topology,
            recurrent,
            beta,
            learn_beta,
            readout_beta,
            weight_gain,
            recurrent_gain,
            recurrent_grad,
            grad_clip,
            weight_average,
            chunk_bins,
            burn_in_bins,
            lr,
            batch_size,
            max_epochs,
            patience,
            seed,
            progress,
            progress_file,
            device,
            candidates,
            auto_seeds,
            footprint_limit,
            ensemble,
            synop_budget,
        )
