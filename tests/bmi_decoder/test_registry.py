"""The shipped registry holds the docs/data.md facts; malformed registries are refused with the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from bmi_decoder.registry import default_download_root, default_registry_path, load_registry
from snn_core.errors import InputError

REPO = Path(__file__).resolve().parents[2]

# docs/data.md, "The NeuroBench primate-reaching protocol": the six sessions and their MD5s.
NEUROBENCH_MD5 = {
    "indy_20160622_01": "c33d5fff31320d709d23fe445561fb6e",
    "indy_20160630_01": "197413a5339630ea926cbd22b8b43338",
    "indy_20170131_02": "2790b1c869564afaa7772dbf9e42d784",
    "loco_20170210_03": "4cae63b58c4cb9c8abd44929216c703b",
    "loco_20170215_02": "739b70762d838f3a1f358733c426bb02",
    "loco_20170301_05": "47342da09f9c950050c9213c3df38ea3",
}

VALID = """\
[indy_x]
kind = "reaching-session"
url = "https://zenodo.org/record/583331/files/indy_x.mat"
md5 = "0123456789abcdef0123456789abcdef"
monkey = "Indy"
channels = 96
citation = "test"
"""


def test_shipped_registry_has_the_six_neurobench_sessions() -> None:
    registry = load_registry()
    for name, md5 in NEUROBENCH_MD5.items():
        entry = registry[name]
        assert entry.kind == "reaching-session"
        assert entry.md5 == md5
        assert entry.url == f"https://zenodo.org/record/583331/files/{name}.mat"
        assert entry.file == f"{name}.mat"
        assert entry.monkey == name.split("_")[0].capitalize()
        # docs/data.md: Indy from 2016-06-22 on has 96 channels, Loco 192.
        assert entry.channels == (96 if entry.monkey == "Indy" else 192)
    assert registry["indy_20160622_01"].size_mb == 909
    assert registry["indy_20160630_01"].size_mb == 382


def test_vision_archives_match_tonic_and_its_folder_layout() -> None:
    import tonic.datasets

    registry = load_registry()
    cifar = registry["cifar10dvs"]
    assert (cifar.kind, cifar.md5, cifar.url) == (
        "dvs-archive",
        tonic.datasets.CIFAR10DVS.file_md5,
        tonic.datasets.CIFAR10DVS.url,
    )
    assert cifar.file == f"CIFAR10DVS/{tonic.datasets.CIFAR10DVS.filename}"
    assert registry["dvsgesture_train"].md5 == tonic.datasets.DVSGesture.train_md5
    assert registry["dvsgesture_test"].file == f"DVSGesture/{tonic.datasets.DVSGesture.test_filename}"
    assert cifar.monkey is None and cifar.channels is None


def test_packaged_registry_is_the_canonical_file() -> None:
    canonical = REPO / "datasets" / "registry.toml"
    assert default_registry_path().read_bytes() == canonical.read_bytes()
    assert default_download_root() == canonical.parent


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "registry.toml"
    path.write_text(text)
    return path


def test_valid_entry_and_default_file_name(tmp_path: Path) -> None:
    entry = load_registry(_write(tmp_path, VALID))["indy_x"]
    assert entry.file == "indy_x.mat"
    assert entry.size_mb is None
    assert (entry.monkey, entry.channels, entry.md5) == ("Indy", 96, "0123456789abcdef0123456789abcdef")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (VALID.replace('md5 = "0123456789abcdef0123456789abcdef"\n', ""), "indy_x.md5"),
        (VALID.replace("0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcde"), "indy_x.md5"),
        (VALID.replace("0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdeg"), "indy_x.md5"),
        (VALID.replace('kind = "reaching-session"', 'kind = "video"'), "indy_x.kind"),
        (VALID.replace('citation = "test"', 'citation = "test"\nchecksum = "x"'), "indy_x.checksum"),
        (VALID.replace("channels = 96", "channels = 100"), "indy_x.channels"),
        (VALID.replace('monkey = "Indy"\n', ""), "indy_x.monkey"),
        (VALID.replace("https://zenodo.org", "ftp://zenodo.org"), "indy_x.url"),
        (VALID.replace('citation = "test"', 'citation = "test"\nfile = "../outside.mat"'), "indy_x.file"),
        (VALID.replace('citation = "test"', 'citation = "test"\nsize_mb = -3'), "indy_x.size_mb"),
        (VALID.replace('kind = "reaching-session"', 'kind = "dvs-archive"'), "indy_x.monkey"),
        ('indy_x = "not a table"\n', "indy_x"),
        (VALID.replace("channels = 96", "channels = "), "syntax"),
    ],
)
def test_malformed_registry_is_refused_with_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_registry(path)
    assert caught.value.field == field
    assert caught.value.source == str(path)


def test_missing_registry_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file: expected a readable TOML config file"):
        load_registry(tmp_path / "absent.toml")
