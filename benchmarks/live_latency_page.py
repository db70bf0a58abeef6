"""Markdown for the report of ``benchmarks/live_latency.py`` (docs/results/live_latency.json)."""

from __future__ import annotations


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _row(label: str, figures: dict) -> str:
    return f"| {label} | " + " | ".join(_us(figures[q]) for q in ("median", "p95", "p99", "max")) + " |"


def _r2(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def render(report: dict) -> str:
    """The page: latencies (us) from the bin's end at the consumer and at the push, the consumer's
    own work, decode time and event delay; late bins, stale events and R2 online against offline."""
    stream, consumer = report["stream"], report["consumer"]
    close = report["close_after_ms"]
    lines = [
        "# Live decoding: latency from the bin's end",
        "",
        f"`{report['command']}`: `bmi-decoder rig` played {report['seconds']:g} s of `{report['session']}` "
        f"from {report['start_s']:g} s at real-time pace; `bmi-decoder stream --realtime` decoded it with the "
        f"{report['decoder']} decoder"
        + (f", closing bins {close:g} ms after their end" if close is not None else ", bins closed by events only")
        + "; an independent consumer subscribed to the velocity stream. All three ran in one loopback-only "
        f"network namespace on {report['cpus']} CPUs (1-minute load average {report['load_average_1min']:.1f} at the end).",
        "",
        "| microseconds | median | p95 | p99 | max |",
        "|---|---|---|---|---|",
        _row("bin's end to the velocity's arrival (consumer)", consumer["latency_from_end_us"]),
        _row("bin's end to the velocity's push (stream.json)", stream["latency_from_end_us"]),
        _row("bin complete to push (the consumer's own work)", stream["latency_us"]),
        _row("decode only (`step`)", stream["decode_us"]),
        _row("an event's time to its arrival", stream["event_delay_us"]),
        "",
        f"Bins: {consumer['bins']:,} received, {stream['bins']:,} pushed; late (over one bin after their end) "
        f"{consumer['late_from_end']:,} at the consumer, {stream['late_from_end']:,} at the push; "
        f"late by the consumer's own work {stream['late_bins']:,}; closed by the clock {stream['closed_by_clock']:,}; "
        f"stale events {stream['stale_events']:,}; dropped {stream['dropped_bins']:,}.",
        "",
        f"R2 of the streamed velocity {_r2(stream['r2_online'])}, of the same bins decoded offline {_r2(stream['r2_offline'])}.",
        "",
    ]
    if stalls := report.get("machine_stalls"):
        lines += [
            f"The machine itself, before the run: a thread that only spins, one per CPU and nothing else running, "
            f"for {stalls['seconds']:g} s. A late bin needs a stall longer than its slack.",
            "",
            "| CPU | longest stall (ms) | stalls over 1 ms | over one bin |",
            "|---|---|---|---|",
            *(f"| {r['cpu']} | {r['longest_ms']:.1f} | {r['over_1ms']} | {r['over_bin']} |" for r in stalls["per_cpu"]),
            "",
        ]
    return "\n".join(lines)
