import json

import pytest
import torch
from torch.utils.data import TensorDataset

from snn_core.errors import InputError
from snn_core.network import NetworkSpec
from vision_bench import train as train_module
from vision_bench.models import VisionModelConfig, VisionNetwork, build_vision_model
from vision_bench.train import TrainConfig, evaluate, load_checkpoint, train

CONFIG = VisionModelConfig(num_classes=3, stem_width=4, widths=(6,), depth=3)


def _quadrant_task(n: int, seed: int) -> TensorDataset:
    """Class c lights one quadrant in one polarity over sparse noise: learnable in a few epochs."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    frames = (torch.rand(n, 4, 2, 16, 16, generator=g) < 0.05).float()  # (n, T, 2, H, W)
    for c in range(3):
        rows = slice(8 * (c // 2), 8 * (c // 2) + 8)
        frames[labels == c, :, c % 2, rows, :8] += (torch.rand(int((labels == c).sum()), 4, 8, 8, generator=g) < 0.6).float()
    return TensorDataset(frames, labels)


TRAIN, TEST = _quadrant_task(60, seed=0), _quadrant_task(30, seed=1)


def test_training_raises_accuracy_above_chance(tmp_path):
    model = build_vision_model(CONFIG, "asc", seed=0)
    before = evaluate(model, TEST)
    lines = []
    result = train(
        model,
        TRAIN,
        TEST,
        TrainConfig(epochs=4, batch_size=10, lr=2e-2),
        log_path=tmp_path / "log.jsonl",
        progress=False,
        log=lines.append,
    )
    assert before < 0.5  # chance is 1/3
    assert result.val_accuracy >= 0.8
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert len(lines) == 4 and "epoch 4/4" in lines[-1] and "val acc" in lines[-1]
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]
    assert records[-1]["device"] in ("cpu", "cuda")  # recorded; which one ran depends on the machine
    # cosine schedule: the learning rate falls every epoch
    assert all(a["lr"] > b["lr"] for a, b in zip(records, records[1:]))


def test_resume_after_an_interruption_ends_with_the_same_weights(tmp_path, monkeypatch):
    config = TrainConfig(epochs=3, batch_size=20, lr=5e-3, seed=4)
    straight = build_vision_model(CONFIG, "mixed", seed=0)
    train(straight, TRAIN, TEST, config, progress=False, log=None)

    checkpoint = tmp_path / "model.pt"
    real_epoch, calls = train_module._epoch_loader, []

    def interrupted_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the user presses Ctrl-C during epoch 2
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(train_module, "_epoch_loader", interrupted_epoch)
    with pytest.raises(KeyboardInterrupt):
        train(build_vision_model(CONFIG, "mixed", seed=0), TRAIN, TEST, config, checkpoint, progress=False, log=None)
    monkeypatch.setattr(train_module, "_epoch_loader", real_epoch)
    saved = load_checkpoint(checkpoint)
    assert saved["epoch"] == 1 and len(saved["history"]) == 1

    resumed = build_vision_model(CONFIG, "mixed", seed=0)
    result = train(resumed, TRAIN, TEST, config, checkpoint, progress=False, log=None)
    assert result.resumed_from == 1 and [h["epoch"] for h in result.history] == [1, 2, 3]
    assert load_checkpoint(checkpoint)["epoch"] == 3
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name

    # a finished checkpoint: nothing left to train, the history comes back as it was
    again = train(build_vision_model(CONFIG, "mixed", seed=0), TRAIN, TEST, config, checkpoint, progress=False, log=None)
    assert again.resumed_from == 3 and again.samples_per_s is None and again.history == result.history


def test_checkpoint_rebuilds_the_model_and_refuses_other_settings(tmp_path):
    checkpoint = tmp_path / "model.pt"
    model = build_vision_model(CONFIG, "dsc", "ann", seed=0)
    config = TrainConfig(epochs=1, batch_size=30)
    train(model, TRAIN, TEST, config, checkpoint, progress=False, log=None, data_id="set-a")
    state = load_checkpoint(checkpoint)
    rebuilt = VisionNetwork(NetworkSpec.from_dict(state["spec"]), state["num_classes"], state["mode"])
    rebuilt.load_state_dict(state["model"])
    assert rebuilt.mode == "ann" and evaluate(rebuilt, TEST) == evaluate(model, TEST)
    assert state["config"]["epochs"] == 1
    with pytest.raises(InputError, match="spec/config"):
        train(
            build_vision_model(CONFIG, "dsc", "ann"), TRAIN, TEST, config, checkpoint, progress=False, log=None, data_id="set-b"
        )
    with pytest.raises(InputError, match="spec/config"):
        train(
            build_vision_model(CONFIG, "asc", "ann"), TRAIN, TEST, config, checkpoint, progress=False, log=None, data_id="set-a"
        )
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="junk.pt"):
        load_checkpoint(tmp_path / "junk.pt")


def test_a_checkpoint_resumes_on_another_device_setting(tmp_path):
    checkpoint = tmp_path / "model.pt"
    train(
        build_vision_model(CONFIG, "none", seed=0),
        TRAIN,
        TEST,
        TrainConfig(epochs=1, batch_size=30, device="cpu"),
        checkpoint,
        progress=False,
        log=None,
    )
    again = train(
        build_vision_model(CONFIG, "none", seed=0),
        TRAIN,
        TEST,
        TrainConfig(epochs=1, batch_size=30, device="auto"),
        checkpoint,
        progress=False,
        log=None,
    )
    assert again.resumed_from == 1


def test_device_names_are_checked():
    assert TrainConfig(device="cuda:1").device == "cuda:1"  # checked as a name; the hardware at train time


@pytest.mark.parametrize(
    "bad", [dict(optimizer="rmsprop"), dict(epochs=0), dict(device="tpu"), dict(device="cuda:x"), dict(lr=0.0)]
)
def test_invalid_training_settings_are_refused(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad)
