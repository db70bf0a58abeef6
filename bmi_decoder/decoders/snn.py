"""Skip-connected (recurrent) spiking decoder built from snn_core, with a leaky readout.

The network is one dense block of LIF layers wired by a skip topology (snn_core), optionally
with recurrent weights per layer: recurrent SNNs lead the NeuroBench primate-reaching results
(BioCAS 2024 tinyRSNN / bigRSNN, docs/data.md). Velocity is read out by a leaky, non-spiking
integrator of the last layer's spikes, as in NeuroBench's SNN baselines, so the readout smooths
4 ms spike trains into a continuous velocity without a spiking output.

Training is backpropagation through time with surrogate gradients on truncated sequences:
random chunks of ``chunk_bins`` bins start from the reset state, and the first ``burn_in_bins``
of each chunk are left out of the loss while the state settles. Early stopping keeps the weights
with the best validation R2, decoded from the reset state over the whole validation segment.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from snn_core.errors import InputError
from snn_core.memory import dense_training_bytes, require_memory
from snn_core.network import NetworkSpec, SkipLayer
from snn_core.topology import SkipTopology

from ._base import check_bin_fast, check_fitted, check_sequence, is_real, require, require_int
from ._torch import FitData, _TorchDecoder
from ._training import check_training_params, chunk_rows, network_device
from .snn_auto import AUTO, AUTO_LEARNED, check_auto_params, fit_auto, population_members
from .snn_footprint import layer_widths
from .snn_network import EnsembleVelocityNet, SpikingVelocityNet, velocity_stepper
from .snn_synops import SynopMeter, input_active


class SNNDecoder(_TorchDecoder):
    """Skip-connected, optionally recurrent, LIF network trained by BPTT.

    Its cost is recorded on the network: layers fed 0/1 bins or spikes (the readout too) cost
    ACs; a layer fed an addition-type skip sum costs MACs at the steps where the sum exceeds 1;
    activation sparsity is over LIF spikes.

    The defaults are four narrow blocks averaged: each three layers of 32, the third also reading
    the first (``"3-001"``), with a membrane decay of 0.95 per step, trained with a moving
    average of the weights. They were chosen on mean validation R2 over the ten simulated
    sessions of ``benchmarks/decoder_comparison.py`` (the average for stable training instead), against
    one block of three 128-wide densenet-like layers (``configs/bmi_snn_wide.toml``, the default
    until then) and against other decays, widths, readout decays and chunk lengths of the four
    narrow blocks (docs/bmi.md, "Choosing the SNN's defaults").

    Args:
        hidden: widths of the LIF layers of each block.
        topology: skip topology of the block in snn_core's text form; None for no skips. The
            default ``"3-001"`` adds one DSC, the first layer's spikes concatenated into the
            third's input, which keeps every layer's input binary (its synaptic operations stay
            ACs). ``"auto"``: chosen per session at fit among
            ``candidates`` (:mod:`~bmi_decoder.decoders.snn_auto`), since the best topology
            differs between recordings; the fitted ``topology_`` is the choice, ``seed_`` the
            seed of its network and ``auto_scores_`` the best validation R2 of every candidate
            at every seed.
        candidates: with ``topology="auto"``, the topologies it chooses among, in text form;
            None: no skips, all DSC and all ASC, and the class's default topology when it
            differs, less those whose network exceeds ``footprint_limit``. They are trained as
            one population (feed-forward only; on a CPU, about one solo fit's time per member).
        auto_seeds: with ``topology="auto"``, each candidate is trained at seeds ``seed`` to
            ``seed + auto_seeds - 1``, and the best (topology, seed) is kept: the seed alone
            moves validation R2 on a session, so seeds are a choice as topologies are.
        recurrent: recurrent weights in every layer (off by default: the feed-forward skip block
            runs on the fused LIF kernels, a recurrent one step by step, several times slower).
        beta: LIF membrane decay per 4 ms step (learned when ``learn_beta``). The default 0.95, a
            time constant of 78 ms, scored higher mean validation R2 than 0.9, 0.93 and 0.98 over
            the ten sessions (docs/bmi.md).
        learn_beta: train the decay of every layer.
        readout_beta: decay of the leaky readout per step.
        weight_gain: factor on the default (uniform +-1/sqrt(fan_in)) initial feed-forward
            weights. Binned spikes are sparse (about 5% of 4 ms bins hold a spike), so default
            weights leave LIF neurons nearly silent (under 1% firing) and gradients vanish; a gain
            of about 3 starts them near 10%. A 32-wide block learns better from the quieter start
            of the default 1.5 (validation R2 rose on all eight sessions it was measured on).
        recurrent_gain: recurrent weights start as a random orthogonal matrix times this gain:
            below 1, so that the spike state's echo decays in every direction at first. The
            default 0.1 starts recurrence as a small perturbation of the feed-forward drive, so
            the initial firing rates stay near the feed-forward block's (docs/bmi.md, "Recurrent
            blocks").
        recurrent_grad: factor on the BPTT gradient through the recurrent weights to the
            previous step's spikes (:class:`snn_core.network.NetworkSpec`). 0, the default, stops
            it there, which made recurrent training stable; 1 is full BPTT, whose fits collapse
            (docs/results/recurrent_training.md).
        grad_clip: each batch's gradient is clipped to this global L2 norm (0: no clipping), so
            that a rare exploding BPTT gradient cannot throw the weights off in one step.
        weight_average: decay per optimiser step of a moving average of the weights, which
            validation scores and early stopping keeps (:mod:`snn_core.weight_average`); 0: the
            weights as trained. An average over about 100 steps (0.99), an epoch of a 600 s
            session, smooths out the last steps' gradient noise, which swings validation R2
            from epoch to epoch and lets early stopping keep a lucky epoch
            (docs/results/training_stability.md). On by default (0.99): it cuts that swing of each
            member several times over at about the same mean test R2; it costs a little
            validation R2, most on 300 s sessions, where the smooth curve lets early stopping end
            the schedule sooner (docs/results/snn_defaults.md, docs/bmi.md).
        chunk_bins: bins per truncated-BPTT chunk.
        burn_in_bins: bins at the start of each chunk left out of the loss.
        lr, batch_size, max_epochs, patience: Adam, the length of the cosine schedule, and early
            stopping (the validation R2 of these sessions dips and recovers over several epochs;
            a 32-wide block was still rising at epoch 30 on 192-channel sessions).
        seed: seeds initialisation and chunk order.
        progress: show a tqdm progress bar over epochs.
        progress_file: where to save the training state after every epoch; an interrupted
            fit resumes from it (None: no saving). An auto fit keeps its population's progress
            in the folder ``<progress_file>.population``.
        footprint_limit: the most bytes the network may take (NeuroBench's footprint, float32
            parameters; an ensemble's members share it equally); every layer is capped at the
            widest width at which it fits on the session's channels
            (:mod:`~bmi_decoder.decoders.snn_footprint`). None: ``hidden`` as given.
        ensemble: how many networks decode, their velocities averaged (1: one; 4 by default). With a fixed
            topology, it is trained at seeds ``seed`` to ``seed + ensemble - 1``; with
            ``"auto"``, the ``ensemble`` members of the candidates x ``auto_seeds`` with the best
            validation R2 are kept. Either way the members train as one population. Averaging
            networks of different seeds cancels part of each one's seed luck
            (docs/results/decoder_comparison.md); the cost (footprint, synaptic operations,
            energy, streaming time) is the members' summed. The fitted ``members_``
            names them (``"topology@seed"``), ``validation_r2_`` is the ensemble's single score.
        synop_budget: effective synaptic operations per step (NeuroBench's ACs, the block input's
            included) above which training is penalised (:mod:`~bmi_decoder.decoders.snn_synops`),
            so that the fitted decoder stays near or under it on recordings like its training
            set (an ensemble's members share it equally); 0: no budget.
        device: ``"auto"`` (a CUDA GPU when visible, else the CPU), ``"cpu"``, ``"cuda"`` or
            ``"cuda:N"``. Trains in float32 on every device: its LIF and readout kernels
            integrate in float32 anyway, and its matrices (at most a few hundred inputs by 32
            neurons per member by default) are too small for bfloat16 to pay off.
    """

    name = "snn"
    stepper = staticmethod(velocity_stepper)

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
        weight_average: float = 0.99,
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
        footprint_limit: int | None = None,
        ensemble: int = 4,
        synop_budget: float = 0.0,
    ) -> None:
        self.hidden = hidden
        self.topology = topology
        self.recurrent = recurrent
        self.beta = beta
        self.learn_beta = learn_beta
        self.readout_beta = readout_beta
        self.weight_gain = weight_gain
        self.recurrent_gain = recurrent_gain
        self.recurrent_grad = recurrent_grad
        self.grad_clip = grad_clip
        self.weight_average = weight_average
        self.chunk_bins = chunk_bins
        self.burn_in_bins = burn_in_bins
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.seed = seed
        self.progress = progress
        self.progress_file = progress_file
        self.device = device
        self.candidates = candidates
        self.auto_seeds = auto_seeds
        self.footprint_limit = footprint_limit
        self.ensemble = ensemble
        self.synop_budget = synop_budget

    def check_params(self) -> None:
        hidden_ok = isinstance(self.hidden, Sequence) and len(self.hidden) > 0
        hidden_ok = hidden_ok and all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in self.hidden)
        require(self, hidden_ok, "hidden", "a non-empty list of positive layer widths")
        require_int(self, "chunk_bins", 2)
        require_int(self, "burn_in_bins", 0)
        require(self, self.burn_in_bins < self.chunk_bins, "burn_in_bins", f"fewer bins than chunk_bins ({self.chunk_bins})")
        for name in ("beta", "readout_beta"):
            value = getattr(self, name)
            require(self, isinstance(value, float | int) and 0 <= value <= 1, name, "a decay in [0, 1]")
        require(self, is_real(self.weight_gain) and self.weight_gain > 0, "weight_gain", "a number > 0")
        require(self, is_real(self.recurrent_gain) and self.recurrent_gain >= 0, "recurrent_gain", "a number >= 0")
        require(self, is_real(self.recurrent_grad) and 0 <= self.recurrent_grad <= 1, "recurrent_grad", "a factor in [0, 1]")
        require(self, is_real(self.grad_clip) and self.grad_clip >= 0, "grad_clip", "a number >= 0 (0: no clipping)")
        average_ok = is_real(self.weight_average) and 0 <= self.weight_average < 1
        require(self, average_ok, "weight_average", "a decay per step in [0, 1) (0: no average)")
        budget_ok = is_real(self.synop_budget) and self.synop_budget >= 0
        require(self, budget_ok, "synop_budget", "synaptic operations per step >= 0 (0: no budget)")
        for name in ("recurrent", "learn_beta"):  # a string such as "no" would otherwise count as true
            require(self, isinstance(getattr(self, name), bool), name, "true or false")
        require(
            self,
            self.topology is None or isinstance(self.topology, str),
            "topology",
            "'auto' or a topology in text form, e.g. '3-111'",
        )
        if self.topology is not None and self.topology != AUTO:
            # its text must parse now; that it fits ``hidden`` is checked at fit, because a
            # topology search sets both together
            try:
                SkipTopology.from_string(self.topology)
            except ValueError as err:
                raise InputError(f"{self.name} decoder", "topology", f"a topology in text form, e.g. '3-111' ({err})") from None
        limit = self.footprint_limit
        limit_ok = limit is None or (isinstance(limit, int) and not isinstance(limit, bool) and limit > 0)
        require(self, limit_ok, "footprint_limit", "a size in bytes > 0, or none for no limit")
        check_auto_params(self)
        check_training_params(self)
        # one input channel at least, one stored activation per layer and bin: a lower bound
        nbytes = dense_training_bytes([1, *self.hidden], self.batch_size * self.chunk_bins * sum(self.hidden), self.recurrent)
        require_memory(f"{self.name} decoder", "hidden", nbytes, "layer widths (with batch_size and chunk_bins)")

    def _spec(self, n_features: int, topology: str | None = None) -> NetworkSpec:
        """The network's spec on ``n_features`` channels, of ``topology`` (default: the decoder's)."""
        topology = topology or self.topology or str(SkipTopology.empty([len(self.hidden)]))
        if topology == AUTO:  # the fitted choice (restored before the network by a checkpoint)
            check_fitted(self, "topology_")
            topology = self.topology_
        widths = layer_widths(self, n_features)
        try:
            return NetworkSpec(
                "dense",
                n_features,
                (widths,),
                topology,
                recurrent=self.recurrent,
                recurrent_grad=float(self.recurrent_grad),
                beta=float(self.beta),
                learn_beta=self.learn_beta,
            )
        except ValueError as err:
            raise InputError(f"{self.name} decoder", "topology", f"a topology for {len(self.hidden)} layers ({err})") from None

    def _build_network(self, n_features: int) -> SpikingVelocityNet | EnsembleVelocityNet:
        """The untrained network for ``n_features`` channels, on the CPU (fit and checkpoints); with
        ``ensemble`` above 1, the fitted members' networks side by side."""
        if self.ensemble > 1:
            check_fitted(self, "members_")
            topologies = [member.rpartition("@")[0] for member in self.members_]
            return EnsembleVelocityNet([self._member_network(n_features, t) for t in topologies])
        return self._member_network(n_features)

    def _member_network(self, n_features: int, topology: str | None = None) -> SpikingVelocityNet:
        network = SpikingVelocityNet(self._spec(n_features, topology), float(self.readout_beta))
        with torch.no_grad():
            for layer in network.body.modules():
                if isinstance(layer, SkipLayer):
                    layer.synapse.weight.mul_(self.weight_gain)
                    if layer.recurrence is not None:
                        # orthogonal: every direction of the spike state is kept at the same
                        # gain, so that through BPTT no mode explodes or dies first (Saxe et
                        # al. 2014; Le et al. 2015 start from a scaled identity for the same reason)
                        nn.init.orthogonal_(layer.recurrence.weight, gain=self.recurrent_gain)
        return network

    def _check_training_data(self, X: np.ndarray) -> None:
        require(self, len(X) > self.chunk_bins, "chunk_bins", f"fewer bins than the training set ({len(X)})")
        if self.topology == AUTO or self.ensemble > 1:
            population_members(self, X.shape[1])  # too few, or none within the footprint: refused before training

    def _fit(self, data: FitData) -> None:
        for name in AUTO_LEARNED:  # a choice of an earlier auto fit is not this fit's
            self.__dict__.pop(name, None)
        if self.topology == AUTO or self.ensemble > 1:
            fit_auto(self, data)
            return
        inputs, targets = data.inputs(), data.targets

        def epoch_batches(rng: np.random.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            for rows in chunk_rows(rng, len(inputs), self.chunk_bins, self.batch_size):
                rows = torch.from_numpy(rows).to(data.device)
                yield inputs[rows].transpose(0, 1), targets[rows].transpose(0, 1)

        meter: SynopMeter | None = None  # counts the operations once the network is built

        def loss_fn(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            loss = nn.functional.mse_loss(out[self.burn_in_bins :], target[self.burn_in_bins :])
            return loss if meter is None else loss + meter.penalty(float(self.synop_budget)).sum()

        def count_operations(network: SpikingVelocityNet) -> None:
            nonlocal meter
            if self.synop_budget:
                meter = SynopMeter(network.body, input_active(data.X))

        try:
            self._train_network(
                data,
                epoch_batches,
                loss_fn,
                on_build=count_operations,
                clip_grad_norm=float(self.grad_clip) or None,
                average_decay=float(self.weight_average) or None,
            )
        finally:
            if meter is not None:
                meter.close()

    def predict(self, X: np.ndarray) -> np.ndarray:
        check_fitted(self, "network_")
        X = check_sequence(X, n_features=self.n_features_in_)
        self.network_.eval()
        with torch.no_grad():
            inputs = torch.from_numpy(X.astype(np.float32)).to(network_device(self.network_))
            out = self.network_(inputs[:, None])[:, 0]
        return self.label_scaler_.decode(out.cpu().numpy())

    def step(self, x: np.ndarray) -> np.ndarray:
        return self._streaming().step(check_bin_fast(x, self.n_features_in_))

    def twin(self) -> SNNDecoder:
        """This decoder with a step state of its own, sharing the network and the stepper's
        weights: a twin that steps beside it keeps them in cache for it."""
        twin = copy.copy(self)  # without the stepper (Decoder.__getstate__)
        twin._stepper = self._streaming().fork()
        return twin
