"""Fetch Fashion-MNIST, verify it, and lay it out for the course.

Steps, each safe to repeat (a run that finds everything in place rewrites nothing):

1. ``fetch_raw``: put the four uncompressed IDX files in ``<root>/FashionMNIST/raw/``,
   the layout ``torchvision.datasets.FashionMNIST(root=<root>, download=False)`` reads.
   For each file:

   * already there with the right size and sha256: keep it untouched. Verified checksums
     are cached in ``<root>/FashionMNIST/.verified.json`` (size, mtime_ns, sha256) so a
     repeated run only re-hashes files whose size or mtime changed;
   * otherwise copy it from a local mirror folder: the ``mirror`` argument, else
     ``$COURSE_DATA_MIRROR``, else ``<repo>/../shared/data`` when that exists. The mirror
     may hold ``FashionMNIST/raw/NAME`` or ``NAME``, plain or as ``NAME.gz`` (Debian's
     ``dataset-fashion-mnist`` puts ``*.gz`` in ``/usr/share/datasets/fashion-mnist/``).
     The copy goes to a temporary file in the destination folder, is checked (size, then
     sha256) and only then renamed over the final name, so a failed or interrupted copy
     never leaves a half-written file behind;
   * otherwise download it with torchvision (into a temporary root, then verified and
     moved in the same way).

   A corrupt destination file is replaced from the mirror when the mirror has the file;
   any other bad file (in the mirror, in the download, or in the destination with no
   mirror to repair it) raises ``DataError`` naming the file and what is wrong.

2. ``write_csv``: write ``<root>/FashionMNIST/csv/fashion-mnist_{train,test}.csv``
   (header ``label,pixel1,...,pixel784``, then label and 784 row-major pixel values per
   image, in IDX order) for the pandas ``Dataset`` of chapter 10. A CSV is skipped when
   ``csv/.source.json`` records that it was written from the current raw files.

Command line: ``python -m autograder.learner.data [--root DIR] [--mirror DIR] [--no-csv]``.
It prints one line per file and exits 1 with the error message on failure.

The module depends only on numpy (torchvision is imported only when downloading), so it
works before the rest of the ``autograder`` package exists.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import struct
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
# The course machines share a read-only copy of the data beside the repository.
SHARED_MIRROR = REPO.parent / "shared" / "data"

# Uncompressed raw files: name -> (size in bytes, sha256).
FILES: dict[str, tuple[int, str]] = {
    "train-images-idx3-ubyte": (
        47040016,
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    "train-labels-idx1-ubyte": (
        60008,
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    "t10k-images-idx3-ubyte": (
        7840016,
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    "t10k-labels-idx1-ubyte": (
        10008,
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
}

# CSV split -> (images file, labels file).
SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

VERIFIED_NAME = ".verified.json"
SOURCE_NAME = ".source.json"
_CHUNK = 1 << 20


class DataError(RuntimeError):
    """A data file is missing, truncated or corrupt, or no source could provide it."""


# --------------------------------------------------------------------------- locations


def data_root() -> Path:
    """The data root: ``$COURSE_DATA_ROOT`` if set, else ``<repo>/data``."""
    env = os.environ.get("COURSE_DATA_ROOT")
    return Path(env) if env else REPO / "data"


def default_mirror() -> Path | None:
    """The mirror to copy from: ``$COURSE_DATA_MIRROR`` if set, else the shared folder
    beside the repository when it exists, else None."""
    env = os.environ.get("COURSE_DATA_MIRROR")
    if env:
        # An explicit choice is returned even if missing, so fetch_raw can complain.
        return Path(env)
    return SHARED_MIRROR if SHARED_MIRROR.is_dir() else None


def _dataset_dir(root: Path) -> Path:
    return root / "FashionMNIST"


def _raw_dir(root: Path) -> Path:
    return _dataset_dir(root) / "raw"


def _csv_dir(root: Path) -> Path:
    return _dataset_dir(root) / "csv"


# --------------------------------------------------------------------------- helpers


def _say(name: str, status: str) -> None:
    print(f"{name}: {status}", flush=True)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _load_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # missing or damaged sidecar: just means "nothing known"
    return data if isinstance(data, dict) else {}


def _save_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _save_cache(path: Path, cache: dict) -> None:
    try:
        _save_json(path, cache)
    except OSError:
        pass  # only a speed-up: a read-only root (e.g. the mirror itself) still works


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _size_problem(size: int, expected: int) -> str:
    hint = "truncated or partial copy?" if size < expected else "not the expected file?"
    return f"{size} bytes, expected {expected} ({hint})"


def _sha_problem(sha: str, expected: str) -> str:
    return f"sha256 {sha[:16]}..., expected {expected[:16]}... (corrupt file)"


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _check_file(path: Path, name: str, cache: dict) -> tuple[str | None, bool]:
    """Check an existing file against FILES[name].

    Returns (problem, cached): problem is None when the file is good, cached tells
    whether the verdict came from the sidecar cache without re-hashing.
    """
    size, sha = FILES[name]
    stamp = _stamp(path)
    entry = cache.get(name)
    if entry == {**stamp, "sha256": sha}:
        return None, True
    if stamp["size"] != size:
        return _size_problem(stamp["size"], size), False
    got = _sha256(path)
    if got != sha:
        return _sha_problem(got, sha), False
    cache[name] = {**stamp, "sha256": sha}
    return None, False


def _mirror_candidates(mirror: Path, name: str) -> list[Path]:
    folders = [mirror / "FashionMNIST" / "raw", mirror]
    return [folder / (name + ext) for ext in ("", ".gz") for folder in folders]


def _find_in_mirror(mirror: Path | None, name: str) -> Path | None:
    if mirror is None:
        return None
    for path in _mirror_candidates(mirror, name):
        if path.is_file():
            return path
    return None


def _copy_verified(src: Path, dest: Path, name: str) -> None:
    """Copy (decompressing ``.gz``) src to dest via a verified temporary file."""
    size, sha = FILES[name]
    compressed = src.suffix == ".gz"
    if not compressed and src.stat().st_size != size:
        # Fail before copying tens of megabytes of a file that cannot be right.
        raise DataError(f"{src}: {_size_problem(src.stat().st_size, size)}")
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        digest, written = hashlib.sha256(), 0
        opener = gzip.open if compressed else open
        with os.fdopen(fd, "wb") as out:
            try:
                with opener(src, "rb") as f:
                    while block := f.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
                        written += len(block)
            except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
                raise DataError(f"{src}: damaged gzip file ({_one_line(exc)})") from exc
        if written != size:
            raise DataError(f"{src}: {_size_problem(written, size)}")
        if digest.hexdigest() != sha:
            raise DataError(f"{src}: {_sha_problem(digest.hexdigest(), sha)}")
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the data is not secret
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _torchvision_fashion_mnist():
    """torchvision's dataset class, imported only when a download is needed."""
    from torchvision.datasets import FashionMNIST

    return FashionMNIST


def _download(raw: Path, names: list[str], cache: dict) -> None:
    """Download with torchvision into a temporary root, then verify and move in."""
    try:
        dataset_class = _torchvision_fashion_mnist()
    except ImportError as exc:
        raise DataError(f"cannot download {', '.join(names)}: {_one_line(exc)}") from exc
    with tempfile.TemporaryDirectory(dir=raw.parent, prefix=".download-") as tmp:
        fetched = _raw_dir(Path(tmp))
        # One constructor call downloads all four files; the second is a safety net.
        for train in (True, False):
            if all((fetched / n).is_file() for n in names):
                break
            try:
                dataset_class(tmp, train=train, download=True)
            except Exception as exc:  # network errors come in many types
                raise DataError(
                    f"downloading Fashion-MNIST failed: {_one_line(exc)} "
                    "(set COURSE_DATA_MIRROR or --mirror to a folder holding the files)"
                ) from exc
        for name in names:
            path = fetched / name
            if not path.is_file():
                raise DataError(f"download did not produce {name}")
            problem, _ = _check_file(path, name, {})
            if problem:
                raise DataError(f"downloaded {name}: {problem}")
            os.replace(path, raw / name)
            cache[name] = {**_stamp(raw / name), "sha256": FILES[name][1]}
            _say(name, "downloaded")


# --------------------------------------------------------------------------- public API


def fetch_raw(
    root: str | os.PathLike | None = None,
    mirror: str | os.PathLike | None = None,
    *,
    download: bool = True,
) -> Path:
    """Make sure the four verified raw IDX files are in ``<root>/FashionMNIST/raw/``.

    Returns that folder. Raises DataError when a file is bad or cannot be obtained.
    """
    root = Path(root) if root is not None else data_root()
    mirror = Path(mirror) if mirror is not None else default_mirror()
    if mirror is not None and not mirror.is_dir():
        raise DataError(f"mirror folder {mirror} does not exist")
    raw = _raw_dir(root)
    raw.mkdir(parents=True, exist_ok=True)
    cache_path = _dataset_dir(root) / VERIFIED_NAME
    cache = _load_json(cache_path)

    missing = []
    try:
        for name in FILES:
            dest = raw / name
            src = _find_in_mirror(mirror, name)
            if dest.exists():
                problem, cached = _check_file(dest, name, cache)
                if problem is None:
                    _say(name, "ok (cached)" if cached else "ok (verified)")
                    continue
                cache.pop(name, None)
                if src is None:
                    raise DataError(
                        f"{dest}: {problem}; no mirror holds {name} to replace it "
                        "(delete the file to download it again)"
                    )
                _say(name, f"corrupt in destination ({problem}), replacing from mirror")
            if src is None:
                missing.append(name)
                continue
            _copy_verified(src, dest, name)
            cache[name] = {**_stamp(dest), "sha256": FILES[name][1]}
            _say(name, "copied from mirror")

        if missing:
            if not download:
                where = f"in mirror {mirror}" if mirror is not None else "in any mirror"
                raise DataError(
                    f"{', '.join(missing)} not in {raw} nor {where}, and download is "
                    "disabled (set COURSE_DATA_MIRROR or --mirror to a folder holding "
                    "the files)"
                )
            _download(raw, missing, cache)
    finally:
        # Keep what was verified so far, even when a later file fails.
        _save_cache(cache_path, cache)
    return raw


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (plain or ``.gz``) into a numpy array of its stated shape.

    Header: two zero bytes, a type code, the number of dimensions, then each dimension
    as a big-endian uint32; the values follow in row-major order, big-endian.
    """
    path = Path(path)
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in dtypes:
        raise DataError(f"{path}: not an IDX file (bad magic number {data[:4].hex()})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: IDX header cut short")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(dtypes[data[2]])
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise DataError(f"{path}: {_size_problem(len(data), expected)}")
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return values.astype(dtype.newbyteorder("="))  # native order, writable copy


# Each uint8 value as its decimal digits plus a comma, padded with NUL to 4 bytes:
# indexing this table with a whole block of pixels gives the CSV text at numpy speed
# (the NULs are dropped afterwards).
_CELLS = np.array(
    [list(f"{v},".encode().ljust(4, b"\0")) for v in range(256)], dtype=np.uint8
)


def _csv_rows(rows: np.ndarray) -> bytes:
    """CSV text for a (n, columns) uint8 array, one line per row."""
    cells = _CELLS[rows]  # (n, columns, 4)
    last = cells[:, -1, :]
    last[last == ord(",")] = ord("\n")  # the last value of a row ends the line
    flat = cells.reshape(-1)
    return flat[flat != 0].tobytes()


def _write_csv_file(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    header = "label," + ",".join(f"pixel{i}" for i in range(1, 785)) + "\n"
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(header.encode())
            step = 4096  # rows per block: bounds memory to ~13 MB per block
            for start in range(0, len(labels), step):
                block = np.column_stack(
                    (labels[start : start + step], images[start : start + step])
                )
                out.write(_csv_rows(block))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_csv(root: str | os.PathLike | None = None) -> dict[str, Path]:
    """Write ``fashion-mnist_{train,test}.csv`` from the verified raw files.

    Returns {"train": path, "test": path}. Raises DataError if a raw file is missing
    or bad (run ``fetch_raw`` first).
    """
    root = Path(root) if root is not None else data_root()
    raw = _raw_dir(root)
    cache_path = _dataset_dir(root) / VERIFIED_NAME
    cache = _load_json(cache_path)
    for name in FILES:
        path = raw / name
        if not path.is_file():
            raise DataError(f"{path}: missing (run python -m autograder.learner.data first)")
        problem, _ = _check_file(path, name, cache)
        if problem:
            raise DataError(f"{path}: {problem}")
    _save_cache(cache_path, cache)

    csv_dir = _csv_dir(root)
    csv_dir.mkdir(parents=True, exist_ok=True)
    source_path = csv_dir / SOURCE_NAME
    sources = _load_json(source_path)
    written = {}
    for split, (images_name, labels_name) in SPLITS.items():
        path = csv_dir / f"fashion-mnist_{split}.csv"
        made_from = {images_name: FILES[images_name][1], labels_name: FILES[labels_name][1]}
        record = sources.get(path.name)
        if path.is_file() and record == {"source": made_from, **_stamp(path)}:
            _say(path.name, "ok (cached)")
        else:
            images = read_idx(raw / images_name)
            labels = read_idx(raw / labels_name)
            if images.ndim != 3 or labels.shape != images.shape[:1]:
                raise DataError(
                    f"{raw}: {images_name} {images.shape} and {labels_name} "
                    f"{labels.shape} do not match"
                )
            _write_csv_file(path, images.reshape(len(images), -1), labels)
            sources[path.name] = {"source": made_from, **_stamp(path)}
            _save_json(source_path, sources)
            _say(path.name, "written")
        written[split] = path
    return written


def prepare(
    root: str | os.PathLike | None = None, mirror: str | os.PathLike | None = None
) -> None:
    """Fetch and verify the raw files, then write the CSV files."""
    root = Path(root) if root is not None else data_root()
    fetch_raw(root, mirror)
    write_csv(root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.learner.data",
        description="Fetch and verify Fashion-MNIST and write its CSV files.",
    )
    parser.add_argument(
        "--root", type=Path, help="data root (default: $COURSE_DATA_ROOT or <repo>/data)"
    )
    parser.add_argument(
        "--mirror",
        type=Path,
        help="folder holding the raw files "
        "(default: $COURSE_DATA_MIRROR or <repo>/../shared/data)",
    )
    parser.add_argument("--no-csv", action="store_true", help="skip writing the CSV files")
    args = parser.parse_args(argv)
    root = args.root if args.root is not None else data_root()
    try:
        fetch_raw(root, args.mirror)
        if not args.no_csv:
            write_csv(root)
    except DataError as exc:
        print(f"DataError: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. an unwritable root: still one line, no traceback
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
