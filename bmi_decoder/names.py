"""The names and defaults that ``bmi-decoder``'s options offer, in a module that imports nothing heavy.

The command line builds every subcommand's parser, for ``--help`` too, from these; importing them
must not import torch, numpy or the file readers, which take seconds. The modules that act on
them import them from here; the registries of classes (:data:`bmi_decoder.decoders.DECODERS`,
:data:`bmi_decoder.recalibration.METHODS`) are keyed by exactly these names, in this order.
"""

from __future__ import annotations

DECODER_NAMES = ("snn", "snn_small", "kalman", "wiener", "ann", "gru")
"""The decoders by the name the command line and the configuration files give them."""

RECALIBRATION_METHODS = ("scratch", "readout", "input", "rates", "latent")
"""The recalibration methods of ``evaluate-days`` (:mod:`bmi_decoder.recalibration`)."""

CALIBRATION_S = (15.0, 30.0, 60.0, 120.0)
"""The seconds of calibration data ``evaluate-days`` gives each recalibration by default."""

SPLITS = ("train", "val", "test")
"""The NeuroBench split of a session, chronological by reach (:mod:`bmi_decoder.preprocess`)."""

# The real files sample at 250 Hz (dt 4 ms); a second without behaviour is 250 missing samples,
# longer than a reach's acceleration phase. Configurable as ``[data] max_gap_s``.
DEFAULT_MAX_GAP_S = 1.0

DEMO_SECONDS = 300.0
"""The length of the simulated session of ``bmi-decoder demo`` (:mod:`bmi_decoder.demo_session`)."""

SPIKE_STREAM = "bmi-spikes"
"""The default name of the live spike stream (``rig`` publishes it, ``stream`` decodes it)."""

VELOCITY_STREAM = "bmi-decoder-velocity"
"""The default name of the decoded velocity stream ``stream`` pushes."""

KINEMATICS_KINDS = ("position", "velocity")
"""What another rig's cursor stream may hold (``stream --kinematics-kind``, :mod:`bmi_decoder.live.truth`)."""
