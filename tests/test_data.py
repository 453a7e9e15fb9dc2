"""Tests for autograder.learner.data: fetching, verifying and converting Fashion-MNIST.

Most tests use small fake IDX files (and patch the module's checksum table to match),
so they run in well under a second; one test uses the real shared mirror when present.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autograder.learner import data

REPO = Path(__file__).resolve().parents[1]
REAL_MIRROR = Path("/work/shared/data")
SIZES = {"train": 6, "t10k": 4}  # images per fake split


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as an IDX file."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Fake raw files in a mirror folder, with FILES patched to their checksums.

    Also isolates the environment so no real mirror or data root is picked up.
    """
    rng = np.random.default_rng(0)
    arrays = {}
    for prefix, n in SIZES.items():
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[0, 0, :3] = [0, 10, 255]  # make sure 1-, 2- and 3-digit values occur
        arrays[f"{prefix}-images-idx3-ubyte"] = images
        arrays[f"{prefix}-labels-idx1-ubyte"] = rng.integers(0, 10, size=n, dtype=np.uint8)
    contents = {name: idx_bytes(a) for name, a in arrays.items()}
    table = {name: (len(b), hashlib.sha256(b).hexdigest()) for name, b in contents.items()}
    monkeypatch.setattr(data, "FILES", table)

    mirror = tmp_path / "mirror"
    raw = mirror / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name, content in contents.items():
        (raw / name).write_bytes(content)

    monkeypatch.delenv("COURSE_DATA_MIRROR", raising=False)
    monkeypatch.delenv("COURSE_DATA_ROOT", raising=False)
    monkeypatch.setattr(data, "SHARED_MIRROR", tmp_path / "no-shared-mirror")
    monkeypatch.setattr(data, "_torchvision_fashion_mnist", _no_download)

    class Fake:
        pass

    fake = Fake()
    fake.arrays, fake.contents, fake.mirror, fake.mirror_raw = arrays, contents, mirror, raw
    fake.root = tmp_path / "root"
    fake.dest = fake.root / "FashionMNIST" / "raw"
    return fake


def _no_download():
    raise AssertionError("test tried to download")


def mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


# --------------------------------------------------------------------------- read_idx


def test_read_idx_round_trip(fake):
    for name, array in fake.arrays.items():
        got = data.read_idx(fake.mirror_raw / name)
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, array)


def test_read_idx_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x12\x34\x08\x01rest")
    with pytest.raises(data.DataError, match="not an IDX file"):
        data.read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(idx_bytes(np.zeros((3, 2), np.uint8))[:-1])
    with pytest.raises(data.DataError, match="17 bytes, expected 18"):
        data.read_idx(short)


def test_read_idx_big_endian_int32(tmp_path):
    values = np.array([[1, -2], [70000, 3]], dtype=">i4")
    path = tmp_path / "ints"
    path.write_bytes(bytes([0, 0, 0x0C, 2]) + struct.pack(">2I", 2, 2) + values.tobytes())
    np.testing.assert_array_equal(data.read_idx(path), values.astype(np.int32))


# --------------------------------------------------------------------------- fetch_raw


def test_fetch_copies_then_rewrites_nothing(fake, capsys, monkeypatch):
    raw = data.fetch_raw(fake.root, fake.mirror)
    assert raw == fake.dest
    for name, content in fake.contents.items():
        assert (raw / name).read_bytes() == content
    assert capsys.readouterr().out.count("copied from mirror") == 4
    before = mtimes(raw)

    # Second run: everything comes from the checksum cache, nothing is hashed or copied.
    monkeypatch.setattr(data, "_sha256", lambda path: pytest.fail(f"re-hashed {path}"))
    data.fetch_raw(fake.root, fake.mirror)
    assert capsys.readouterr().out.count("ok (cached)") == 4
    assert mtimes(raw) == before


def test_changed_mtime_is_rehashed_not_rewritten(fake, capsys):
    data.fetch_raw(fake.root, fake.mirror)
    name = "t10k-labels-idx1-ubyte"
    os.utime(fake.dest / name, ns=(1, 1))  # same content, new mtime: cache is stale
    capsys.readouterr()
    data.fetch_raw(fake.root, fake.mirror)
    assert f"{name}: ok (verified)" in capsys.readouterr().out
    assert (fake.dest / name).stat().st_mtime_ns == 1


def test_flat_gz_mirror(fake, tmp_path, capsys):
    flat = tmp_path / "debian"  # like /usr/share/datasets/fashion-mnist/
    flat.mkdir()
    for name, content in fake.contents.items():
        (flat / f"{name}.gz").write_bytes(gzip.compress(content))
    data.fetch_raw(fake.root, flat, download=False)
    for name, content in fake.contents.items():
        assert (fake.dest / name).read_bytes() == content
    assert capsys.readouterr().out.count("copied from mirror") == 4


def test_flat_plain_mirror_via_environment(fake, tmp_path, monkeypatch):
    flat = tmp_path / "flat"
    flat.mkdir()
    for name, content in fake.contents.items():
        (flat / name).write_bytes(content)
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(flat))
    assert data.default_mirror() == flat
    data.fetch_raw(fake.root, download=False)
    assert sorted(p.name for p in fake.dest.iterdir()) == sorted(fake.contents)


def test_truncated_mirror_file(fake):
    name = "t10k-labels-idx1-ubyte"
    (fake.mirror_raw / name).write_bytes(fake.contents[name][:5])
    size = len(fake.contents[name])
    with pytest.raises(data.DataError) as info:
        data.fetch_raw(fake.root, fake.mirror)
    message = str(info.value)
    assert str(fake.mirror_raw / name) in message
    assert f"5 bytes, expected {size} (truncated" in message
    assert not (fake.dest / name).exists()
    assert leftovers(fake.dest) == []


def test_corrupt_mirror_file_same_size(fake):
    name = "train-images-idx3-ubyte"
    content = bytearray(fake.contents[name])
    content[-1] ^= 0xFF
    (fake.mirror_raw / name).write_bytes(bytes(content))
    with pytest.raises(data.DataError, match=rf"{name}: sha256 \w+\.\.\., expected .*corrupt"):
        data.fetch_raw(fake.root, fake.mirror)
    assert not (fake.dest / name).exists()
    assert leftovers(fake.dest) == []


def test_truncated_gz_mirror_file(fake, tmp_path):
    flat = tmp_path / "gz"
    flat.mkdir()
    for name, content in fake.contents.items():
        (flat / f"{name}.gz").write_bytes(gzip.compress(content)[:-20])
    with pytest.raises(data.DataError, match=r"train-images-idx3-ubyte\.gz: damaged gzip"):
        data.fetch_raw(fake.root, flat)
    assert leftovers(fake.dest) == []


def test_corrupt_destination_replaced_from_mirror(fake, capsys):
    data.fetch_raw(fake.root, fake.mirror)
    name = "train-labels-idx1-ubyte"
    dest = fake.dest / name
    dest.write_bytes(b"\0" * len(fake.contents[name]))  # same size, wrong bytes
    capsys.readouterr()
    data.fetch_raw(fake.root, fake.mirror)
    out = capsys.readouterr().out
    assert f"{name}: corrupt in destination (sha256" in out
    assert f"{name}: copied from mirror" in out
    assert dest.read_bytes() == fake.contents[name]


def test_corrupt_destination_without_mirror(fake):
    data.fetch_raw(fake.root, fake.mirror)
    name = "t10k-images-idx3-ubyte"
    dest = fake.dest / name
    dest.write_bytes(fake.contents[name][:100])
    with pytest.raises(data.DataError, match=rf"{dest}: 100 bytes, expected \d+ \(truncated"):
        data.fetch_raw(fake.root)  # no default mirror in this test


def test_no_mirror_and_download_disabled(fake):
    assert data.default_mirror() is None
    with pytest.raises(data.DataError, match="download is disabled"):
        data.fetch_raw(fake.root, download=False)


def test_missing_explicit_mirror(fake, tmp_path):
    with pytest.raises(data.DataError, match="mirror folder .* does not exist"):
        data.fetch_raw(fake.root, tmp_path / "nowhere")


def test_download_path(fake, monkeypatch, capsys):
    """Without a mirror, the files come from torchvision (faked here) and are verified."""
    calls = []

    class FakeFashionMNIST:
        def __init__(self, root, train, download):
            calls.append((train, download))
            raw = Path(root) / "FashionMNIST" / "raw"
            raw.mkdir(parents=True, exist_ok=True)
            for name, content in fake.contents.items():
                (raw / name).write_bytes(content)
                (raw / f"{name}.gz").write_bytes(gzip.compress(content))

    monkeypatch.setattr(data, "_torchvision_fashion_mnist", lambda: FakeFashionMNIST)
    data.fetch_raw(fake.root)
    assert calls == [(True, True)]
    assert capsys.readouterr().out.count("downloaded") == 4
    assert sorted(p.name for p in fake.dest.iterdir()) == sorted(fake.contents)
    assert [p.name for p in fake.dest.parent.iterdir() if p.name.startswith(".download")] == []


def test_download_failure_is_a_data_error(fake, monkeypatch):
    class Offline:
        def __init__(self, root, train, download):
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nno network")

    monkeypatch.setattr(data, "_torchvision_fashion_mnist", lambda: Offline)
    with pytest.raises(data.DataError, match="downloading Fashion-MNIST failed: .*no network"):
        data.fetch_raw(fake.root)


def test_data_root_honours_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_DATA_ROOT", raising=False)
    assert data.data_root() == REPO / "data"
    monkeypatch.setenv("COURSE_DATA_ROOT", str(tmp_path))
    assert data.data_root() == tmp_path


# --------------------------------------------------------------------------- CSV


def test_csv_content_and_idempotency(fake, capsys):
    data.fetch_raw(fake.root, fake.mirror)
    paths = data.write_csv(fake.root)
    assert set(paths) == {"train", "test"}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        lines = paths[split].read_text().splitlines()
        assert lines[0] == "label," + ",".join(f"pixel{i}" for i in range(1, 785))
        rows = np.array([[int(v) for v in line.split(",")] for line in lines[1:]])
        images = fake.arrays[f"{prefix}-images-idx3-ubyte"]
        labels = fake.arrays[f"{prefix}-labels-idx1-ubyte"]
        assert rows.shape == (SIZES[prefix], 785)
        np.testing.assert_array_equal(rows[:, 0], labels)
        np.testing.assert_array_equal(rows[:, 1:], images.reshape(len(images), -1))
    assert lines[1].split(",")[1:4] == ["0", "10", "255"]

    csv_dir = paths["train"].parent
    before = mtimes(csv_dir)
    capsys.readouterr()
    data.write_csv(fake.root)
    assert capsys.readouterr().out.count("ok (cached)") == 2
    assert mtimes(csv_dir) == before


def test_csv_rewritten_when_damaged(fake, capsys):
    data.fetch_raw(fake.root, fake.mirror)
    paths = data.write_csv(fake.root)
    good = paths["test"].read_bytes()
    paths["test"].write_bytes(good[:50])  # e.g. an interrupted editor save
    capsys.readouterr()
    data.write_csv(fake.root)
    out = capsys.readouterr().out
    assert "fashion-mnist_test.csv: written" in out
    assert "fashion-mnist_train.csv: ok (cached)" in out
    assert paths["test"].read_bytes() == good


def test_csv_needs_raw_files(fake):
    with pytest.raises(data.DataError, match="missing"):
        data.write_csv(fake.root)


def test_prepare_and_cli_success(fake, capsys):
    assert data.main(["--root", str(fake.root), "--mirror", str(fake.mirror)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 6
    assert "fashion-mnist_train.csv: written" in out
    data.prepare(fake.root, fake.mirror)
    assert capsys.readouterr().out.count("ok (cached)") == 6


def test_cli_error_exit_code(tmp_path):
    """A bad mirror file gives exit status 1 and a one-line message, no traceback."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "t10k-labels-idx1-ubyte").write_bytes(b"\0" * 5000)
    env = {**os.environ, "COURSE_DATA_MIRROR": str(mirror)}
    env.pop("COURSE_DATA_ROOT", None)
    result = subprocess.run(
        [sys.executable, "-m", "autograder.learner.data", "--root", str(tmp_path / "root"), "--no-csv"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"DataError: {mirror / 't10k-labels-idx1-ubyte'}: 5000 bytes, expected 10008 "
        "(truncated or partial copy?)"
    ]


# --------------------------------------------------------------------------- real data


@pytest.mark.skipif(
    not (REAL_MIRROR / "FashionMNIST" / "raw").is_dir(), reason="no shared data mirror"
)
def test_real_mirror(tmp_path, monkeypatch):
    import pandas as pd
    from torchvision.datasets import FashionMNIST

    monkeypatch.delenv("COURSE_DATA_ROOT", raising=False)
    root = tmp_path / "data"
    data.prepare(root, REAL_MIRROR)

    dataset = FashionMNIST(root, train=False, download=False)
    assert len(dataset) == 10000

    frame = pd.read_csv(root / "FashionMNIST" / "csv" / "fashion-mnist_test.csv")
    assert frame.shape == (10000, 785)
    images = data.read_idx(root / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte")
    labels = data.read_idx(root / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte")
    first = frame.iloc[0].to_numpy()
    assert first[0] == labels[0] == int(dataset.targets[0])
    np.testing.assert_array_equal(first[1:], images[0].reshape(-1))
