"""The shared trainer: it learns, resumes exactly, and never resumes (or runs) what it should not."""

import os
import pickle

import numpy as np
import pytest
import torch

from snn_core import progress_file
from snn_core.errors import InputError
from snn_core.training import data_digest, seeded_torch, train
from snn_core.weight_average import WeightAverage

DEVICE = torch.device("cpu")


def _regression(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """y = X w + noise: a linear model can reach an R2 near 1."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(256, 5, generator=g)
    return X, X @ torch.tensor([[1.0], [-2.0], [0.5], [0.0], [3.0]]) + 0.1 * torch.randn(256, 1, generator=g)


X, Y = _regression(0)
X_VAL, Y_VAL = _regression(1)


def _fit(checkpoint=None, data=(X, Y), epochs=6, patience=None, scores=None, on_start=None, **kwargs):
    """A dropout-regularised linear model (dropout: resuming must also restore torch's generator)."""
    inputs, targets = data
    with seeded_torch(0, DEVICE):
        model = torch.nn.Sequential(torch.nn.Dropout(0.1), torch.nn.Linear(5, 1))
        if on_start is not None:
            on_start(model)

        def batches(rng):
            order = torch.from_numpy(rng.permutation(len(inputs)))
            for start in range(0, len(order), 32):
                rows = order[start : start + 32]
                yield inputs[rows], targets[rows]

        def r2():
            residual = ((model(X_VAL) - Y_VAL) ** 2).sum()
            return float(1 - residual / ((Y_VAL - Y_VAL.mean()) ** 2).sum())

        result = train(
            model,
            torch.optim.Adam(model.parameters(), lr=0.2),
            batches,
            lambda batch: torch.nn.functional.mse_loss(model(batch[0]), batch[1]),
            r2 if scores is None else lambda: next(scores),
            max_epochs=epochs,
            seed=3,
            patience=patience,
            checkpoint=checkpoint,
            identity={"task": "regression", "data": data_digest(inputs, targets)},
            **kwargs,
        )
    return model, result


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_training_lowers_the_loss_and_raises_the_score():
    _, result = _fit()
    scores = [r["score"] for r in result.history]
    assert len(result.history) == 6 and [r["epoch"] for r in result.history] == [1, 2, 3, 4, 5, 6]
    assert scores[-1] > 0.9 and result.best_score == max(scores)
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert all(a["lr"] > b["lr"] for a, b in zip(result.history, result.history[1:]))  # cosine schedule


def test_patience_stops_early_and_keeps_the_best_weights():
    scripted, weights = iter([0.5, 0.7, 0.6, 0.65, 0.1, 0.9]), {}

    def snapshot(record):
        weights[record["epoch"]] = {k: v.clone() for k, v in model_of_run[0].state_dict().items()}
        return {}

    model_of_run = []
    model, result = _fit(patience=2, scores=scripted, epoch_stats=snapshot, on_start=model_of_run.append)
    assert [r["score"] for r in result.history] == [0.5, 0.7, 0.6, 0.65]
    assert result.best_score == 0.7
    assert all(torch.equal(v, weights[2][k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("average_decay", [None, 0.9])
def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path, average_decay):
    straight, _ = _fit(average_decay=average_decay)
    checkpoint = tmp_path / "progress.pt"

    def interrupt(history):
        if len(history) == 3:
            raise KeyboardInterrupt  # Ctrl-C right after epoch 3 was saved

    with pytest.raises(KeyboardInterrupt):
        _fit(checkpoint, on_epoch=interrupt, average_decay=average_decay)
    resumed, result = _fit(checkpoint, average_decay=average_decay)
    assert result.resumed_from == 3 and len(result.history) == 6
    assert _same_weights(straight, resumed)


def test_the_weight_average_is_scored_and_kept():
    """With an average, validation sees the averaged weights, and the model ends with them."""
    seen = []

    def snapshot(record):
        seen.append({k: v.clone() for k, v in model_of_run[0].state_dict().items()})
        return {}

    model_of_run = []
    averaged, result = _fit(average_decay=0.9, keep_best=False, epoch_stats=snapshot, on_start=model_of_run.append)
    trained, _ = _fit(keep_best=False)
    assert result.history[-1]["score"] > 0.9  # it still learns
    assert all(torch.equal(v, seen[-1][k]) for k, v in averaged.state_dict().items())
    # same batches, same steps: the average differs from the last iterate, and lags it
    assert not _same_weights(averaged, trained)
    with pytest.raises(ValueError, match="decay"):
        _fit(average_decay=1.5)


def test_the_average_warms_up_then_decays():
    weight = torch.nn.Parameter(torch.zeros(3))
    average = WeightAverage([weight], 0.5)
    with torch.no_grad():
        weight.fill_(1.0)
    average.update()  # first decay min(0.5, 1/10): the average moves 0.9 of the way
    torch.testing.assert_close(average.average[0], torch.full((3,), 0.9))
    for _ in range(20):
        average.update()
    torch.testing.assert_close(average.average[0], torch.ones(3))
    with torch.no_grad():
        weight.fill_(3.0)
    with average.applied():
        torch.testing.assert_close(weight.detach(), torch.ones(3))
    torch.testing.assert_close(weight.detach(), torch.full((3,), 3.0))


def test_progress_of_other_data_is_not_resumed(tmp_path, capsys):
    checkpoint = tmp_path / "progress.pt"
    _fit(checkpoint, data=_regression(7), epochs=2)
    capsys.readouterr()
    model, result = _fit(checkpoint, epochs=2)
    assert result.resumed_from == 0 and len(result.history) == 2
    warning = capsys.readouterr().err
    assert warning.count("\n") == 1 and "not resumed" in warning
    assert _same_weights(model, _fit(epochs=2)[0])
    with pytest.raises(InputError, match="spec/config"):  # strict: the checkpoint is a model to keep
        _fit(checkpoint, data=_regression(7), epochs=2, strict=True)


def test_a_later_stage_overwrites_the_progress_of_the_stage_it_supersedes(tmp_path, capsys):
    """A fit that trains stages in turn through one progress file (the ANN's candidate windows):
    the next stage starts afresh over the previous stage's progress, silently, even when strict;
    a file of another job is still refused."""
    checkpoint = tmp_path / "progress.pt"
    earlier = {"task": "regression", "data": data_digest(*_regression(7))}
    _fit(checkpoint, data=_regression(7), epochs=2)
    capsys.readouterr()
    model, result = _fit(checkpoint, epochs=2, strict=True, supersedes=[earlier])
    assert result.resumed_from == 0 and len(result.history) == 2
    assert capsys.readouterr().err == ""
    assert _same_weights(model, _fit(epochs=2)[0])
    with pytest.raises(InputError, match="spec/config"):
        _fit(checkpoint, data=_regression(8), epochs=2, strict=True, supersedes=[earlier])


def test_a_truncated_progress_file_is_set_aside(tmp_path, capsys):
    checkpoint = tmp_path / "progress.pt"
    _fit(checkpoint, epochs=2)
    checkpoint.write_bytes(checkpoint.read_bytes()[:200])
    capsys.readouterr()
    _, result = _fit(checkpoint, epochs=2)
    assert result.resumed_from == 0 and len(result.history) == 2
    warning = capsys.readouterr().err
    assert warning.count("\n") == 1 and "progress.pt.corrupt" in warning
    assert (tmp_path / "progress.pt.corrupt").exists() and checkpoint.exists()


class _Exploit:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize(
    "write",
    [
        lambda path, obj: path.write_bytes(pickle.dumps(obj, protocol=2)),
        lambda path, obj: torch.save({"format": progress_file.FORMAT, "identity": obj}, path),
    ],
)
def test_a_planted_pickle_is_refused_not_run(tmp_path, capsys, write):
    marker = tmp_path / "pwned"
    checkpoint = tmp_path / "progress.pt"
    write(checkpoint, _Exploit(marker))
    _, result = _fit(checkpoint, epochs=2)
    assert not marker.exists()
    assert result.resumed_from == 0 and len(result.history) == 2
    assert (tmp_path / "progress.pt.corrupt").exists()
    assert "progress.pt" in capsys.readouterr().err


def test_the_planted_pickle_is_a_real_exploit(tmp_path):
    """The control for the test above: unpickled without weights_only, it does run code."""
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(_Exploit(marker)))
    assert marker.exists()


def test_the_progress_file_loads_weights_only(tmp_path):
    checkpoint = tmp_path / "progress.pt"
    _fit(checkpoint, epochs=1, extra={"spec": {"widths": [1, 2]}})
    saved = torch.load(checkpoint, weights_only=True)
    assert saved["epoch"] == 1 and saved["spec"] == {"widths": [1, 2]} and saved["format"] == progress_file.FORMAT


def test_data_digest_tells_data_apart():
    a = np.arange(6, dtype=np.float32)
    assert data_digest(a) == data_digest(torch.from_numpy(a.copy()))
    assert data_digest(a) != data_digest(a.reshape(2, 3)) != data_digest(a.astype(np.float64))
    assert data_digest(a, None) != data_digest(a)


@pytest.mark.parametrize("clip", [None, 0.01])
def test_gradient_clipping_bounds_each_step(clip):
    """One plain SGD step of lr 1 moves the weights by the gradient: its norm is the clip's at most."""
    with seeded_torch(0, DEVICE):
        model = torch.nn.Linear(5, 1)
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    train(
        model,
        torch.optim.SGD(model.parameters(), lr=1.0),
        lambda rng: iter([(X, Y)]),
        # a loss scaled up a thousandfold: the unclipped step is far longer than 0.01
        lambda batch: 1e3 * torch.nn.functional.mse_loss(model(batch[0]), batch[1]),
        lambda: 0.0,
        max_epochs=1,
        seed=0,
        keep_best=False,
        clip_grad_norm=clip,
    )
    moved = float(torch.linalg.vector_norm(torch.cat([p.detach().flatten() for p in model.parameters()]) - before))
    assert moved <= 0.01 + 1e-6 if clip is not None else moved > 100
