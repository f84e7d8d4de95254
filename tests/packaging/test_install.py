"""`pip install .` into a fresh virtual environment outside the checkout: the installed balis finds its shipped
config/, keeps its data in $BALIS_HOME, and `balis testbed up|status|down` works through the entry point."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP = shutil.ignore_patterns(".git", ".venv", "var", "build", "*.egg-info", "__pycache__", ".pytest_cache",
                              ".ruff_cache", ".hypothesis", "tests", "benchmarks", "docs")


def test_every_package_of_the_checkout_is_listed_in_pyproject():
    """The package list is written out (config/ is mapped to `balis_config`); a new package must be added."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in ROOT.glob("*/**/*.py")
             if not {".venv", "tests", "build", "benchmarks", "scripts"} & set(p.relative_to(ROOT).parts)}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert listed - found == {"balis_config"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A virtual environment outside the checkout with balis installed from a copy of the source (`--no-deps`:
    the libraries balis needs are taken from the project's environment through a path file, not downloaded)."""
    tmp = tmp_path_factory.mktemp("install")
    source = tmp / "src"
    shutil.copytree(ROOT, source, ignore=SKIP)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, cwd=tmp)
    target = next(venv.glob("lib/python*/site-packages"))
    (target / "project-libraries.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", str(source)],
                          capture_output=True, text=True, cwd=tmp, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    shutil.rmtree(source)  # nothing of the checkout is left to lean on
    return venv


def run(venv: Path, home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """The installed `balis` command, run outside the checkout with only $BALIS_HOME set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALIS_") and k != "PYTHONPATH"}
    env["BALIS_HOME"] = str(home)
    return subprocess.run([str(venv / "bin" / "balis"), *args], capture_output=True, text=True, cwd=home.parent,
                          env=env, timeout=timeout)


def test_the_installed_copy_runs_from_its_environment_not_from_the_checkout(installed, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    out = subprocess.run([str(installed / "bin" / "python"), "-c",
                          "import members, balis.cli; from members import paths; "
                          "print(members.__file__); print(paths.home()); print(paths.config_file('members.toml'))"],
                         capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "BALIS_HOME": str(home)})
    module, data_home, registry = out.stdout.split("\n")[:3]
    assert out.returncode == 0, out.stderr
    assert Path(module).is_relative_to(installed) and not Path(module).is_relative_to(ROOT)
    assert Path(data_home) == home
    assert Path(registry).is_relative_to(installed) and Path(registry).is_file()


def test_installed_balis_lists_the_shipped_members(installed, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    out = run(installed, home, "members", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert Path(doc["registry"]).is_relative_to(installed) and doc["registry"].endswith("balis_config/members.toml")
    assert "清华大学" in [m["name"] for m in doc["members"]]


@pytest.mark.integration
def test_installed_balis_starts_and_stops_the_test_bed_in_its_home(installed, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    up = run(installed, home, "testbed", "up", "--members", "2", "--json", timeout=300)
    try:
        assert up.returncode == 0, up.stderr
        doc = json.loads(up.stdout)
        assert Path(doc["registry"]) == home / "testbed" / "registry.toml"
        assert len(doc["members"]) == 2 and all(m["running"] for m in doc["members"])
        status = run(installed, home, "testbed", "status")
        assert status.returncode == 0, status.stderr
        members = run(installed, home, "members", "--json")  # the running test bed's registry is the default
        assert json.loads(members.stdout)["registry"] == str(home / "testbed" / "registry.toml")
    finally:
        down = run(installed, home, "testbed", "down")
    assert down.returncode == 0, down.stderr
    assert "stopped" in down.stdout
    assert run(installed, home, "testbed", "status").returncode == 1  # nothing runs any more
