"""Collection from an LMS download: nothing lost, nothing merged, nothing taken that should
not be, every skipped file listed with its reason."""

from __future__ import annotations

import io
import zipfile

import nbformat
import pytest

from autograder.grader import collect
from autograder.grader.collect import collect_lms, scan, student_id
from autograder.grader.grading import load, source_notebook

CH = "ch01_numpy_net"


def _nb(text: str = "x = 1") -> bytes:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(text))
    return nbformat.writes(nb).encode()


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


def test_every_original_is_kept_and_the_newest_is_graded(tmp_path):
    lms = tmp_path / "download"
    lms.mkdir()
    good = _nb()
    (lms / f"Doe, Jane_1234_assignsubmission_file_{CH}.ipynb").write_bytes(good)
    (lms / "Roe Rick_55_late").mkdir()
    (lms / "Roe Rick_55_late" / "my notebook (1).ipynb").write_bytes(b"{broken")
    root = tmp_path / "grading"
    first = collect_lms(lms, CH, root)
    assert sorted(c.student for c in first.collected) == ["doe-jane-1234", "roe-rick-55"]
    assert [c.late for c in first.collected if c.student == "roe-rick-55"] == [True]
    again = collect_lms(lms, CH, root)                      # same files: nothing new
    assert not any(c.new for c in again.collected)
    (lms / f"Doe, Jane_1234_assignsubmission_file_{CH}.ipynb").write_bytes(good + b"\n")
    third = collect_lms(lms, CH, root)
    originals = sorted(p for p in (root / "originals" / "doe-jane-1234").iterdir() if p.suffix != ".json")
    assert len(originals) == 2 and originals[0].read_bytes() == good
    assert (root / "submitted" / "doe-jane-1234" / CH / f"{CH}.ipynb").read_bytes() == good + b"\n"
    assert any(c.new for c in third.collected)


def test_symlinks_and_files_outside_the_download_are_skipped_and_listed(tmp_path):
    secret = tmp_path / "solutions.ipynb"
    secret.write_bytes(_nb("the instructor's solution"))
    lms = tmp_path / "download"
    (lms / "Eve Example").mkdir(parents=True)
    (lms / "Eve Example" / f"{CH}.ipynb").symlink_to(secret)
    (lms / "Linked folder").symlink_to(tmp_path, target_is_directory=True)
    (lms / "Bob").mkdir()
    (lms / "Bob" / f"{CH}.ipynb").write_bytes(_nb())
    found = collect_lms(lms, CH, tmp_path / "grading")
    assert [c.student for c in found.collected] == ["bob"]
    reasons = {s.origin: s.reason for s in found.skipped}
    assert "symbolic link" in reasons[f"Eve Example/{CH}.ipynb"]
    assert "symbolic link" in reasons["Linked folder"]
    kept = b"".join(p.read_bytes() for p in (tmp_path / "grading" / "originals").rglob("*.ipynb"))
    assert b"the instructor's solution" not in kept


def test_distinct_learners_are_never_merged_and_unicode_names_are_kept(tmp_path):
    lms = tmp_path / "download"
    for name in ("张伟", "李娜", "Doe, Jane_1001", "DOE JANE_1001"):
        (lms / name).mkdir(parents=True)
        (lms / name / f"{CH}.ipynb").write_bytes(_nb(name))
    root = tmp_path / "grading"
    found = collect_lms(lms, CH, root)
    ids = sorted(c.student for c in found.collected)
    assert len(set(ids)) == 4, ids
    assert "张伟" in ids and "李娜" in ids
    assert any("kept apart" in n for n in found.notes), found.notes
    again = collect_lms(lms, CH, root)                    # the same learners keep their ids
    assert sorted(c.student for c in again.collected) == ids and not again.notes


def test_zip_bombs_nested_zips_and_junk(tmp_path):
    inner = _zip({"ch01/ch01_numpy_net.ipynb": _nb("erin")})
    download = _zip({
        "Erin Example_42_assignsubmission_file_/erin_ch01.zip": inner,
        "Zed Bomb_43_assignsubmission_file_/big.ipynb": b"\0" * (collect.MAX_MEMBER_BYTES + 1),
        "__MACOSX/Erin Example_42_assignsubmission_file_/._erin_ch01.zip": b"junk",
        "Ann Other_44_assignsubmission_file_/.DS_Store": b"junk",
        "Ann Other_44_assignsubmission_file_/ch01_numpy_net.ipynb": _nb("ann"),
    })
    path = tmp_path / "submissions.zip"
    path.write_bytes(download)
    assert len(download) < 200_000           # a small download that would inflate to > 50 MB
    found = scan(path)
    owners = sorted((e.display, e.lms_id) for e in found.entries)
    assert owners == [("Ann Other", "44"), ("Erin Example", "42")]
    reasons = " | ".join(f"{s.origin}: {s.reason}" for s in found.skipped)
    assert "big.ipynb" in reasons and "over the cap" in reasons
    assert "__MACOSX" in reasons and ".DS_Store" in reasons
    assert found.read_bytes < 1_000_000


def test_canvas_names_give_lms_id_and_lateness(tmp_path):
    download = _zip({"doejane_123456_7890123_ch01_numpy_net.ipynb": _nb("jane"),
                     "roerick_LATE_555_7890124_ch01_numpy_net.ipynb": _nb("rick")})
    path = tmp_path / "canvas.zip"
    path.write_bytes(download)
    found = collect_lms(path, CH, tmp_path / "grading")
    by_id = {c.student: c for c in found.collected}
    assert set(by_id) == {"doejane-123456", "roerick-555"}
    assert by_id["roerick-555"].late and not by_id["doejane-123456"].late
    meta = collect.originals_meta(tmp_path / "grading", "roerick-555")
    assert meta[0]["lms_id"] == "555" and meta[0]["late"] is True


def test_a_notebook_saved_with_a_byte_order_mark_is_read():
    source = source_notebook(CH)
    data = b"\xef\xbb\xbf" + nbformat.writes(source).encode()
    nb, status, problem = load(data, CH, source)
    assert nb is not None and status == "graded", problem


@pytest.mark.parametrize("raw, expected", [
    ("Smith, Anne_777_assignsubmission_file_ch01_numpy_net.ipynb", "smith-anne-777"),
    ("Müller, Jürgen", "müller-jürgen"),
    ("", "unnamed"),
])
def test_student_ids(raw, expected):
    assert student_id(raw, CH) == expected
