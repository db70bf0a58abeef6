"""The live latency page carries the report's figures: the consumer's and the stream's."""

import json
from pathlib import Path

import live_latency_page


def figures(median: float) -> dict:
    return {"median": median, "p95": median * 2, "p99": median * 3, "max": median * 10}


def test_page_carries_the_consumer_and_stream_figures():
    report = {
        "command": "python benchmarks/live_latency.py --checkpoint runs/snn.pt",
        "session": "demo_sim3_300s_seed0.mat",
        "start_s": 225.0,
        "seconds": 60.0,
        "decoder": "snn",
        "cpus": 2,
        "load_average_1min": 0.4,
        "close_after_ms": 1.0,
        "consumer": {"bins": 15000, "latency_from_end_us": figures(1234.0), "late_from_end": 3},
        "stream": {
            "bins": 15000,
            "latency_from_end_us": figures(1111.0),
            "late_from_end": 2,
            "latency_us": figures(42.0),
            "decode_us": figures(13.0),
            "event_delay_us": figures(250.0),
            "late_bins": 0,
            "stale_events": 7,
            "dropped_bins": 0,
            "closed_by_clock": 900,
            "r2_online": 0.64471,
            "r2_offline": 0.64482,
        },
    }
    json.dumps(report)  # the benchmark writes it as JSON
    page = live_latency_page.render(report)
    assert "| bin's end to the velocity's arrival (consumer) | 1,234 | 2,468 | 3,702 | 12,340 |" in page
    assert "| bin's end to the velocity's push (stream.json) | 1,111 |" in page
    assert "closing bins 1 ms after their end" in page and "stale events 7" in page
    assert "0.6447" in page and "0.6448" in page and "load average 0.4" in page
    assert "`python benchmarks/live_latency.py --checkpoint runs/snn.pt`: `bmi-decoder rig`" in page
    assert Path(live_latency_page.__file__).name == "live_latency_page.py"
