"""The way in stays true: CI runs the full bootstrap and builds the bundle, and the README's quick
start names real modes."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOTSTRAP = ROOT / "packaging" / "bootstrap.sh"


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Quick start\n(.*?)(?=^## |\Z)", readme, re.M | re.S)
    assert section, "README.md has no '## Quick start' section"
    block = re.search(r"^```[a-z]*\n(.*?)^```", section.group(1), re.M | re.S)
    assert block, "the quick start has no code block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def bootstrap_modes() -> set[str]:
    script = BOOTSTRAP.read_text(encoding="utf-8")
    cases = re.search(r'^case "\$mode" in\n(.*?)^esac', script, re.M | re.S)
    assert cases, "bootstrap.sh no longer dispatches on its mode"
    # Patterns of the branch that shifts the mode off and carries on: the real modes.
    return {
        pattern.strip()
        for line in cases.group(1).splitlines()
        if line.strip().endswith(") shift ;;")
        for pattern in line.split(")")[0].split("|")
    }


def test_ci_runs_the_full_bootstrap_test():
    lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    # The full test command first; then the bundle, built and checked with real models.
    assert "packaging/bootstrap.sh test" in lines
    build = [n for n, line in enumerate(lines) if line.startswith("packaging/build --self-test ")]
    assert build and build[0] > lines.index("packaging/bootstrap.sh test")
    assert os.access(BOOTSTRAP, os.X_OK), "bootstrap.sh must be executable"
    assert os.access(ROOT / "packaging" / "build", os.X_OK), "packaging/build must be executable"


def test_the_quick_start_is_two_bootstrap_commands_that_exist():
    commands = quick_start_commands()
    assert commands == ["packaging/bootstrap.sh run", "packaging/bootstrap.sh test"]
    modes = bootstrap_modes()
    for command in commands:
        assert command.split()[1] in modes


def test_bootstrap_parses_and_rejects_an_unknown_mode_before_doing_anything():
    subprocess.run(["bash", "-n", str(BOOTSTRAP)], check=True)
    result = subprocess.run(
        ["bash", str(BOOTSTRAP), "deploy"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2
    assert "bootstrap.sh run" in result.stderr
    assert "bootstrap.sh test" in result.stderr
