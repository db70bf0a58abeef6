"""The BMI benchmarks' pages carry their JSON's figures, the machine's load and the command."""

import bmi_pages
import readme_blocks

MACHINE = {"date": "2026-01-01T00:00:00+00:00", "machine": {"cpus": 2, "cpus_allowed": 1, "load_average_1min": 0.31}}


def test_demo_page_and_readme_table_have_one_line_per_decoder():
    row = {
        "decoder": "snn",
        "r2": 0.6431,
        "r2_x": 0.632,
        "r2_y": 0.655,
        "footprint_bytes": 1024 * 338.5,
        "synops": {"dense": 86272, "effective_macs": 0, "effective_acs": 6532.4},
        "activation_sparsity": 0.929,
        "energy_pj_per_step": 5878.2,
    }
    report = {"command": "python benchmarks/demo_table.py", "demo": "bmi-decoder demo --device cpu", "sessions": ["s.mat"]}
    report |= {"energy_note": "Energy is an estimate.", "results": [row], **MACHINE}
    line = "| snn | 0.643 | 0.632 | 0.655 | 338.5 | 86,272 | 0 | 6,532 | 0.929 | 5,878 |"
    page = bmi_pages.demo(report)
    assert line in page and "`bmi-decoder demo --device cpu` on s.mat" in page and "Energy is an estimate." in page
    assert "load average 0.31 when it started" in page and "`python benchmarks/demo_table.py`" in page
    assert line in readme_blocks.demo_block({"demo": report})
    assert "demo_table.py" in readme_blocks.demo_block({})


def test_speed_and_latency_pages_carry_ratios():
    training = {
        "command": "python benchmarks/training_speed.py",
        "torch_threads": 2,
        "bmi": {"session": "s.mat", "epochs": 2, "seconds_per_epoch": {"gru": 2.0, "snn": 1.0, "snn_eager": 10.0}},
        "vision": {"device": "cpu", "model": "m", "batches": 3, "samples_per_second": {"ann": 8.0, "snn": 7.0, "snn_eager": 6.5}},
        **MACHINE,
    }
    page = bmi_pages.training_speed(training)
    assert "| SNN, fused LIF | 1.00 | 0.50 |" in page and "| SNN, eager LIF loop | 6.5 |" in page
    replay = {
        "command": "python benchmarks/replay_latency.py",
        "session": "s.mat",
        "bins": 7500,
        "bin_width_ms": 4.0,
        "channels": 96,
        "topology": "3-111",
        "epochs": 2,
        "torch_threads": 1,
        "repeats": 5,
        "loops_us": {"ours": {"median": 5.0, "p95": 8.0, "p99": 9.5}, "snnTorch": {"median": 700.0, "p95": 900.0, "p99": 1400.0}},
        "ratio": {"median": 140.0, "p99": 147.4},
        **MACHINE,
    }
    page = bmi_pages.replay_latency(replay)
    assert "| snnTorch | 700.0 | 900.0 | 1,400.0 |" in page and "140.0x at the median, 147.4x at p99" in page
    assert readme_blocks.results_block({"replay_latency": replay}, lambda name: f"{name}.md").count("[replay_latency]") == 1
    load = {"seconds": 2450.0, "seed": 0, "channels": 96, "file_mb": 41.2, "spikes_in_file": 3_200_000, "bins": 612_500}
    load |= {"load_s": 0.54, "bin_s": 0.64, "spikes_per_s": 2.7e6, "command": "python benchmarks/load_and_bin.py", **MACHINE}
    assert "| 0.54 | 0.64 | 2.70 |" in bmi_pages.load_and_bin(load)


def test_quality_pages_carry_the_r2_and_fall_back_to_the_bare_command():
    difficulty = {
        "command": "python benchmarks/simulator_difficulty.py",
        "simulator_version": 3,
        "seconds": 600.0,
        "decoder": "ridge Wiener filter",
        "sessions": [{"seed": 0, "test_r2": 0.5, "train_r2": 0.7}, {"seed": 1, "test_r2": 0.6, "train_r2": 0.8}],
        "mean_test_r2": 0.55,
        **MACHINE,
    }
    assert "| 1 | 0.600 | 0.800 |" in bmi_pages.simulator_difficulty(difficulty)
    fit = {"session": "a", "best_validation_r2": 0.6, "worst_fall": 0.1, "test_r2": 0.5, "epochs": 9, "fit_seconds": 60.0}
    recurrent = {"model": {"hidden": [24, 24], "topology": "2-1"}}
    recurrent["results"] = [{**fit, "recurrent_grad": 1.0, "test_r2": 0.1}, {**fit, "recurrent_grad": 0.0}]
    page = bmi_pages.recurrent_training(recurrent)  # written before the benchmark recorded its command
    assert "| a | 1 | 0.600 | 0.100 | 0.100 | 9 | 60 |" in page and "Command: `python benchmarks/recurrent_training.py`" in page
