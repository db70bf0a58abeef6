"""Live decoding over Lab Streaming Layer: a simulated rig publishes spike events, a consumer bins
them online exactly as the offline preprocessing does and decodes every bin (docs/live.md).

Modules: :mod:`~bmi_decoder.live.events` (a recording as a time-ordered event stream and its
clock), :mod:`~bmi_decoder.live.binning` (the online binner), :mod:`~bmi_decoder.live.faults`
(fault injection), :mod:`~bmi_decoder.live.lsl` (the loopback-only liblsl configuration and the
stream layout), :mod:`~bmi_decoder.live.rig` (the publisher), :mod:`~bmi_decoder.live.stream`
(the consumer's loop) with :mod:`~bmi_decoder.live.connection` (its inlets and the source's clock),
:mod:`~bmi_decoder.live.rules` (the fault rules and when a bin closes),
:mod:`~bmi_decoder.live.bookkeeping` (counts and percentiles), :mod:`~bmi_decoder.live.truth`
(the true kinematics), :mod:`~bmi_decoder.live.results` (stream.json), :mod:`~bmi_decoder.live.view`
(the browser view), and :mod:`~bmi_decoder.live.consumer` (an independent consumer of the velocity).
"""
