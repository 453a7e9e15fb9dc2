"""The environment files agree: env/requirements.txt (pip), environment.yml (conda) and
the constraints lock pin the same versions, torch and torchvision as the machines need."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def test_pip_and_conda_lists_agree():
    pip = _pins((ROOT / "env" / "requirements.txt").read_text().splitlines())
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    assert _pins(pip_section) == pip
    assert any(str(d).startswith("python=3.11") for d in conda["dependencies"])


def test_requirements_are_pinned_in_the_lock():
    pip = _pins((ROOT / "env" / "requirements.txt").read_text().splitlines())
    lock = _pins((ROOT / "env" / "constraints.txt").read_text().splitlines())
    assert {k: lock.get(k) for k in pip} == pip


def test_torch_pins():
    lock = _pins((ROOT / "env" / "constraints.txt").read_text().splitlines())
    assert lock["torch"] == "2.14.1" and lock["torchvision"] == "0.29.1"


def test_installed_versions_match_the_pins():
    from importlib.metadata import version

    pip = _pins((ROOT / "env" / "requirements.txt").read_text().splitlines())
    for name in ("torch", "torchvision", "numpy", "nbgrader"):
        assert version(name).split("+")[0] == pip[name]
