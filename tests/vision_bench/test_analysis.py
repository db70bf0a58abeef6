import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn

from snn_core.errors import InputError
from snn_core.metrics import ActivityRecorder, ModelCost, SynapticOperations
from vision_bench.analysis import Activity, ModelResult, VariantResult, layer_label
from vision_bench.claims import judge_claims
from vision_bench.cli import main
from vision_bench.cli._arguments import with_device
from vision_bench.cli.demo import ensure_synthetic_set
from vision_bench.config import load_config
from vision_bench.data import write_synthetic_cifar10dvs
from vision_bench.verdicts import claims_table

TINY_CONFIG = """\
[data]
time_bins = 2
size = 8

[model]
stem_width = 4
widths = [4]
depth = 3

[train]
epochs = 1
batch_size = 55
lr = 1e-2

[analysis]
activity_samples = 10
"""


@pytest.fixture(scope="module")
def sim_root(tmp_path_factory):
    # 11 per class: the fewest that leave a 9:1 test split (10 train + 1 test per class)
    return write_synthetic_cifar10dvs(tmp_path_factory.mktemp("sim"), per_class=11, seed=3, progress=False).root


def _write(tmp_path, text, name="config.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_analyze_writes_the_report_with_claim_verdicts(sim_root, tmp_path, capsys):
    config, out = _write(tmp_path, TINY_CONFIG), tmp_path / "out"
    argv = ["analyze", "--dataset", "synthetic", "--root", str(sim_root), "--config", str(config), "--out", str(out)]
    assert main(argv) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["data"]["train"] == 100 and report["data"]["test"] == 10
    assert list(report["variants"]) == ["none", "dsc", "asc", "mixed"]
    for _variant, row in report["variants"].items():
        assert row["topology"].startswith("1-_3-")
        assert 0 <= row["snn"]["accuracy"] <= 1 and row["drop"] == pytest.approx(row["ann"]["accuracy"] - row["snn"]["accuracy"])
        assert list(row["snn"]["firing_rates"]) == ["stem", "b1.l0", "b1.l1", "b1.l2"]
        assert row["snn"]["synops"]["dense"] > 0 and row["snn"]["energy_pj_per_step"] > 0
        assert row["ann"]["synops"]["effective_acs"] == 0  # ReLU outputs are not spikes: all MACs
    # the SNN's blocks run on spikes: accumulates, no multiplies (no-skip variant)
    assert report["variants"]["none"]["snn"]["synops"]["effective_acs"] > 0
    assert [c["id"] for c in report["claims"]] == ["1a", "1b", "1c", "1d", "2", "2b"]
    assert all(isinstance(c["held"], bool) and c["numbers"] for c in report["claims"])
    markdown = (out / "report.md").read_text()
    assert "held" in markdown and "memory traffic" in markdown and "firing_rates.png" in markdown
    assert (out / "firing_rates.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == sorted(
        f"{v}-{m}.pt" for v in report["variants"] for m in ("snn", "ann")
    )
    printed = capsys.readouterr().out
    assert "| variant |" in printed and "1a:" in printed

    # a second run finds every model trained and reuses it
    assert main(argv) == 0
    again = json.loads((out / "report.json").read_text())
    assert again["variants"]["asc"]["snn"]["accuracy"] == report["variants"]["asc"]["snn"]["accuracy"]
    assert "epoch 1/1" not in capsys.readouterr().out


@pytest.mark.parametrize(
    "text, field",
    [
        ("[train]\nepoch = 3\n", "train.epoch"),
        ("[model]\nwidth = [4]\n", "model.width"),
        ("[optimiser]\nlr = 1\n", "optimiser"),
        ("[train]\nepochs = '3'\n", "train.epochs"),
        ("[model]\nfamily = 'vgg'\n", "[model]"),
        ("[analysis]\nvariants = ['none', 'dense']\n", "analysis.variants"),
        ("[train\n", "syntax"),
        ("[train]\nepochs = 2.5\n", "train.epochs: expected an integer"),
        ("[train]\nseed = 'abc'\n", "train.seed: expected an integer"),
        ("[model]\nbeta = nan\n", "model.beta: expected a finite number"),
        ("[analysis]\nvariants = 5\n", "analysis.variants: expected an array of strings"),
        ("[data]\nsize = '48'\n", "data.size: expected an integer"),
        ("train = 3\n", "train: expected a table"),
    ],
)
def test_bad_config_exits_2_with_one_line(tmp_path, capsys, text, field):
    config = _write(tmp_path, text)
    with pytest.raises(InputError, match=field.replace("[", r"\[").replace("]", r"\]")):
        load_config(config)
    assert main(["analyze", "--dataset", "synthetic", "--root", str(tmp_path), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(config) in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["analyze", "search", "demo"])
def test_bad_device_exits_2_with_one_line(command, tmp_path, capsys):
    data = [] if command == "demo" else ["--dataset", "synthetic", "--root", str(tmp_path)]
    assert main([command, *data, "--device", "tpu", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--device: expected auto, cpu, cuda or cuda:N, got 'tpu'" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("command", ["analyze", "search", "demo"])
def test_device_help_says_what_auto_means(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--device" in help_text and "auto (the default) takes a CUDA GPU when one is visible, else the CPU" in help_text


def test_device_flag_overrides_the_config(tmp_path):
    config = load_config(_write(tmp_path, "[train]\ndevice = 'cuda'\n"))
    assert with_device(config, "cpu").train.device == "cpu"
    assert with_device(config, None) is config


def test_missing_root_exits_2(tmp_path, capsys):
    assert main(["analyze", "--dataset", "synthetic", "--root", str(tmp_path / "absent"), "--out", str(tmp_path / "o")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_config_defaults_and_values(tmp_path):
    config = load_config(_write(tmp_path, TINY_CONFIG))
    assert config.model.widths == (4,) and config.train.epochs == 1 and config.train.lr == 1e-2
    assert config.variants == ("none", "dsc", "asc", "mixed") and config.data.split_scheme is None


def _model(accuracy, rate=0.0, energy=0.0, energy_count=0.0):
    # energies as MACs alone: 4.6 pJ each
    activity = Activity(
        {}, rate, ModelCost(0, 0.0, 0.0, SynapticOperations(0, energy / 4.6, 0)), SynapticOperations(0, energy_count / 4.6, 0)
    )
    return ModelResult(accuracy, activity, 0.0, 0.0, "cpu")


def _rows(rate, acc, ann_acc, energy, energy_count=None):
    return {
        v: VariantResult("", _model(acc[v], rate[v], energy[v], (energy_count or energy)[v]), _model(ann_acc[v])) for v in rate
    }


def test_claims_follow_the_numbers():
    rows = _rows(
        rate={"none": 0.10, "dsc": 0.12, "asc": 0.15},
        acc={"none": 0.50, "dsc": 0.60, "asc": 0.70},
        ann_acc={"none": 0.80, "dsc": 0.75, "asc": 0.72},
        energy={"none": 10.0, "dsc": 12.0, "asc": 20.0},
        energy_count={"none": 10.0, "dsc": 12.0, "asc": 11.0},
    )
    held = {c.id: c.held for c in judge_claims(rows, n_test=1000)}
    assert held == {"1a": True, "1b": True, "1c": True, "1d": True, "2": True, "2b": False}

    dsc = rows["dsc"].snn
    # DSC now lowers the rate and widens the drop to 0.4
    rows["dsc"] = VariantResult(
        "", replace(dsc, activity=replace(dsc.activity, mean_firing_rate=0.05)), _model(dsc.accuracy + 0.4)
    )
    claims = {c.id: c for c in judge_claims(rows, n_test=1000)}
    assert not claims["1a"].held and claims["1b"].held and not claims["1d"].held
    assert claims["1d"].numbers["drop_dsc"] == pytest.approx(0.4)


def test_small_test_sets_mark_accuracy_verdicts_inconclusive():
    rows = _rows(
        {"none": 0.1, "dsc": 0.1, "asc": 0.1},
        {"none": 0.5, "dsc": 0.60, "asc": 0.62},
        {"none": 0.9, "dsc": 0.9, "asc": 0.9},
        {"none": 1.0, "dsc": 1.0, "asc": 1.0},
    )
    claims = {c.id: c for c in judge_claims(rows, n_test=50)}
    assert claims["1c"].held and "inconclusive" in claims["1c"].note
    row = next(line for line in claims_table(claims.values()).splitlines() if line.startswith("| 1c"))
    assert "inconclusive" in row and "**held**" not in row
    assert judge_claims(rows, n_test=100_000)[2].note == ""


def test_claims_needing_a_missing_variant_are_not_tested():
    rows = _rows({"none": 0.1, "asc": 0.2}, {"none": 0.5, "asc": 0.6}, {"none": 0.9, "asc": 0.9}, {"none": 1.0, "asc": 2.0})
    assert all(c.held is None and "not tested" in c.note for c in judge_claims(rows, n_test=10))


def test_spike_count_recorder_counts_summed_spikes_as_accumulates():
    conv = nn.Conv2d(1, 1, 1, bias=False)
    spikes = (torch.rand(4, 1, 5, 5) < 0.5).float()
    with ActivityRecorder(conv, spike_count=True) as recorder:
        conv(2 * spikes)  # an ASC sum where both inputs spiked
    n = int(spikes.sum())
    assert recorder.macs == n and recorder.acs == 0  # NeuroBench: non-binary input -> MACs
    assert recorder.by_count.acs == 2 * n and recorder.by_count.macs == 0
    with ActivityRecorder(conv, spike_count=True) as recorder:
        conv(spikes * 0.5)
    assert recorder.by_count.macs == n and recorder.by_count.acs == 0


def test_layer_labels():
    assert layer_label("trunk.blocks.0.layers.0") == "stem"
    assert layer_label("trunk.blocks.2.layers.3") == "b2.l3"


@pytest.mark.parametrize("name", ["vision_demo.toml", "vision_cifar10dvs.toml"])
def test_shipped_configs_load(name):
    config = load_config(Path(__file__).parents[2] / "configs" / name)
    assert config.variants == ("none", "dsc", "asc", "mixed") and config.model.family == "resnet"


def test_demo_reuses_a_matching_simulated_set_and_refuses_a_foreign_one(tmp_path):
    manifest = tmp_path / "CIFAR10DVS" / "synthetic.json"
    manifest.parent.mkdir()
    manifest.write_text(json.dumps({"per_class": 60, "seed": 0}))
    ensure_synthetic_set(tmp_path, per_class=60, seed=0)  # already there: nothing written
    assert [p.name for p in manifest.parent.iterdir()] == ["synthetic.json"]
    with pytest.raises(InputError, match="per_class/seed"):
        ensure_synthetic_set(tmp_path, per_class=60, seed=1)
    with pytest.raises(InputError, match="per_class/seed"):
        ensure_synthetic_set(tmp_path, per_class=20, seed=0)


@pytest.mark.parametrize(
    "text", ["[model]\nwidths = [4.5]\n", "[model]\nwidths = 4\n", "[train]\nlr = true\n", "[analysis]\nvariants = [1]\n"]
)
def test_values_of_the_wrong_type_are_refused(tmp_path, text):
    with pytest.raises(InputError, match="expected an? "):
        load_config(_write(tmp_path, text))
