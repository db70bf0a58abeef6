"""Velocity decoding from intracortical spike recordings of monkeys reaching to targets.

Read a session, prepare it the NeuroBench way, fit and score decoders::

    from bmi_decoder import SNNDecoder, evaluate_decoder, prepare_session, read_recording

    session = prepare_session(read_recording("indy_20160630_01.mat"))
    result = evaluate_decoder(SNNDecoder(), session, "snn")

The public names below are imported from their submodules on first use (see
:mod:`snn_core._lazy`): ``import bmi_decoder`` imports neither torch nor matplotlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from snn_core._lazy import lazy_exports

if TYPE_CHECKING:
    from bmi_decoder.checkpoint import load_decoder, save_decoder
    from bmi_decoder.decoders import (
        DECODERS,
        ANNDecoder,
        Decoder,
        GRUDecoder,
        KalmanDecoder,
        SNNDecoder,
        WienerDecoder,
        clone,
        make_decoder,
    )
    from bmi_decoder.evaluation import correlation, r2_per_axis, r2_score, rmse
    from bmi_decoder.experiment import DecoderResult, ExperimentConfig, evaluate_decoder, evaluate_file, load_config
    from bmi_decoder.io import RecordingFile, read_recording, read_recording_file, write_recording
    from bmi_decoder.preprocess import PreparedSession, Preprocessing, bin_spikes, prepare_session
    from bmi_decoder.quality import Finding, check_recording, require_decodable
    from bmi_decoder.recording import Recording, SpikeEvents
    from bmi_decoder.registry import DatasetEntry, load_registry
    from bmi_decoder.simulate import SimulatedSession, simulate_session

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "decoders": (
            "Decoder",
            "SNNDecoder",
            "KalmanDecoder",
            "WienerDecoder",
            "ANNDecoder",
            "GRUDecoder",
            "DECODERS",
            "make_decoder",
            "clone",
        ),
        "recording": ("Recording", "SpikeEvents"),
        "io": ("RecordingFile", "read_recording", "read_recording_file", "write_recording"),
        "preprocess": ("Preprocessing", "PreparedSession", "bin_spikes", "prepare_session"),
        "quality": ("Finding", "check_recording", "require_decodable"),
        "evaluation": ("r2_score", "r2_per_axis", "correlation", "rmse"),
        "experiment": ("ExperimentConfig", "DecoderResult", "load_config", "evaluate_decoder", "evaluate_file"),
        "checkpoint": ("save_decoder", "load_decoder"),
        "simulate": ("SimulatedSession", "simulate_session"),
        "registry": ("DatasetEntry", "load_registry"),
    },
)
