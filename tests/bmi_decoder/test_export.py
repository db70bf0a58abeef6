"""`bmi-decoder export`: the NIR graph of a trained SNN decoder, re-imported into snnTorch (its NIR
import), decodes the test split step by step as the decoder does; bad input exits 2."""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import pytest
import torch
from snntorch.import_nir import import_from_nir

from bmi_decoder.checkpoint import save_decoder
from bmi_decoder.cli import main
from bmi_decoder.decoders import SNNDecoder, WienerDecoder
from bmi_decoder.preprocess import NEUROBENCH, Preprocessing, prepare_session
from bmi_decoder.simulate import simulate_session

CHANNELS = 16


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def session():
    return prepare_session(simulate_session(seconds=30, channels=CHANNELS, seed=1).recording)


def snntorch_decode(path: Path, X: np.ndarray) -> np.ndarray:
    """Import the NIR file with snnTorch and run it one bin per call from its reset state."""
    network = import_from_nir(nir.read(path))
    state, out = None, []
    with torch.no_grad():
        for x in torch.from_numpy(X):
            v, state = network(x[None], state)
            out.append(v[0].numpy())
    return np.array(out)


@pytest.mark.parametrize("recurrent", [False, True])
def test_exported_graph_decodes_as_the_decoder(session, tmp_path: Path, recurrent: bool) -> None:
    # ASC (0,1) between equal widths, ASC (1,2) through a 16 -> 8 projection, DSC (0,2)
    decoder = SNNDecoder(
        hidden=(16, 16, 8), topology="3-212", recurrent=recurrent, ensemble=1, max_epochs=1, chunk_bins=64, progress=False, seed=0
    )
    decoder.fit(*session.split("train"), *session.split("val"))
    ckpt, out = tmp_path / "snn.ckpt", tmp_path / "snn.nir"
    save_decoder(decoder, ckpt, preprocessing=NEUROBENCH)
    assert main(["export", str(ckpt), str(out)]) == 0
    X, _ = session.split("test")
    X = X[:500]
    ours = decoder.predict(X)
    with torch.no_grad():
        spikes = decoder.network_.body(torch.from_numpy(X)[:, None])
    assert 0 < float(spikes.mean()) < 1  # the layers fire: thresholds and resets are exercised
    np.testing.assert_allclose(snntorch_decode(out, X), ours, rtol=1e-5, atol=1e-5)


def test_an_ensemble_exports_as_its_members_averaged(session, tmp_path: Path) -> None:
    decoder = SNNDecoder(hidden=(16, 16, 8), topology="3-212", ensemble=2, max_epochs=1, chunk_bins=64, progress=False)
    decoder.fit(*session.split("train"), *session.split("val"))
    ckpt, out = tmp_path / "ensemble.ckpt", tmp_path / "ensemble.nir"
    save_decoder(decoder, ckpt, preprocessing=NEUROBENCH)
    assert main(["export", str(ckpt), str(out)]) == 0
    assert {"member0_input", "member1_input"}.isdisjoint(nir.read(out).nodes)  # one input, shared
    X = session.split("test")[0][:500]
    np.testing.assert_allclose(snntorch_decode(out, X), decoder.predict(X), rtol=1e-5, atol=1e-5)


def test_the_graph_names_the_bins_the_decoder_was_trained_on(tmp_path: Path) -> None:
    """A decoder trained on 20 ms spike counts, 40 ms ahead of the velocity, exports that: the
    graph's metadata is the checkpoint's preprocessing, not the 4 ms protocol default."""
    preprocessing = Preprocessing(bin_width=0.02, mode="count", lag=0.04)
    coarse = prepare_session(simulate_session(seconds=30, channels=CHANNELS, seed=1).recording, preprocessing)
    decoder = SNNDecoder(hidden=(8,), topology="1-", max_epochs=1, chunk_bins=32, burn_in_bins=4, progress=False, seed=0)
    decoder.fit(*coarse.split("train"), *coarse.split("val"))
    ckpt, out = tmp_path / "coarse.ckpt", tmp_path / "coarse.nir"
    save_decoder(decoder, ckpt, preprocessing=preprocessing)
    assert main(["export", str(ckpt), str(out)]) == 0
    metadata = nir.read(out).metadata
    assert float(metadata["bin_width_s"]) == 0.02 and float(metadata["lag_s"]) == 0.04
    assert str(metadata["bin_mode"]) == "count"


def test_bad_input_exits_2_with_one_line(session, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    wiener = tmp_path / "wiener.ckpt"
    save_decoder(WienerDecoder().fit(*session.split("train"), *session.split("val")), wiener, preprocessing=NEUROBENCH)
    not_a_checkpoint = tmp_path / "notes.txt"
    not_a_checkpoint.write_text("not a checkpoint\n")
    cases = [
        ([str(wiener), str(tmp_path / "a.nir")], "decoder"),
        ([str(not_a_checkpoint), str(tmp_path / "b.nir")], "format"),
        ([str(tmp_path / "missing.ckpt"), str(tmp_path / "c.nir")], "file"),
        ([str(wiener), str(not_a_checkpoint / "d.nir")], "OUT.nir"),  # under a file: unwritable
    ]
    for argv, field in cases:
        capsys.readouterr()
        assert main(["export", *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and field in err[0], err
        assert not Path(argv[1]).exists()
