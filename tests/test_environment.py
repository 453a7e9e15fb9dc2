"""The environment files agree: env/requirements.txt (top level), environment.yml (conda)
and the universal lock env/lock.txt pin the same versions, torch and torchvision as the
machines need, and the lock installs on every supported Python."""

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
    assert "python>=3.11" in conda["dependencies"]


def test_requirements_are_pinned_in_the_lock():
    pip = _pins((ROOT / "env" / "requirements.txt").read_text().splitlines())
    lock = _pins(l.split(";")[0] for l in (ROOT / "env" / "lock.txt").read_text().splitlines())
    assert {k: lock.get(k) for k in pip} == pip


def test_torch_pins():
    lock = _pins(l.split(";")[0] for l in (ROOT / "env" / "lock.txt").read_text().splitlines())
    assert lock["torch"] == "2.14.1" and lock["torchvision"] == "0.29.1"


def test_the_lock_has_a_version_of_everything_for_each_supported_python():
    """pip evaluates the lock's markers: for Debian 12's 3.11.2, a 3.11.7 and Ubuntu 24.04's
    3.12, every package resolves to exactly one version (none missing, none twice)."""
    from packaging.markers import Marker
    from packaging.requirements import Requirement

    lines = [l for l in (ROOT / "env" / "lock.txt").read_text().splitlines()
             if l.strip() and not l.lstrip().startswith("#")]
    for version in ("3.11.2", "3.11.7", "3.12.3", "3.13.1"):
        env = {"python_full_version": version, "python_version": version.rsplit(".", 1)[0],
               "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
               "implementation_name": "cpython", "platform_python_implementation": "CPython",
               "os_name": "posix"}
        chosen = {}
        for line in lines:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate(env):
                assert req.name.lower() not in chosen, (version, req.name)
                chosen[req.name.lower()] = str(req.specifier)
        assert "torch" in chosen and "soupsieve" in chosen, version


def test_installed_versions_match_the_pins():
    from importlib.metadata import version

    pip = _pins((ROOT / "env" / "requirements.txt").read_text().splitlines())
    for name in ("torch", "torchvision", "numpy", "nbgrader"):
        assert version(name).split("+")[0] == pip[name]
