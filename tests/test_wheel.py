"""The wheel works on its own: built from this checkout, installed into a fresh virtual environment
(the versions CI tested; llama-cpp-python from pip's cache, never compiled again), run from
outside the checkout, it starts, knows its version, reads its model catalog and finds its icon."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from app import __version__

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "packaging" / "constraints.txt"

CHECK = """
import app, json
from pathlib import Path
from app.core.resources import resource
from app.library.catalog import load_catalog
print(json.dumps({
    "package": app.__file__,
    "catalog": len(load_catalog()),
    "icon": resource("icons", "hearth.svg").is_file(),
}))
"""


def run(command: list[str | Path], cwd: Path, timeout: float = 900) -> str:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_the_wheel_installed_alone_runs_and_finds_its_catalog_and_icon(tmp_path):
    # Built from a copy: setuptools builds in the source tree, and the checkout stays as it is.
    source = tmp_path / "source"
    shutil.copytree(ROOT / "app", source / "app", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", wheels, source], tmp_path)
    (wheel,) = wheels.glob("hearth-*.whl")

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv], tmp_path)
    python = venv / "bin" / "python"
    run([python, "-m", "pip", "install", "--quiet", "--constraint", CONSTRAINTS, wheel], tmp_path)

    outside = tmp_path / "elsewhere"  # not the checkout: only the installed package can be found
    outside.mkdir()
    assert run([venv / "bin" / "hearth", "--version"], outside).strip() == f"Hearth {__version__}"

    found = json.loads(run([python, "-c", CHECK], outside).strip().splitlines()[-1])
    assert Path(found["package"]).is_relative_to(venv)
    assert found["catalog"] > 0 and found["icon"] is True
