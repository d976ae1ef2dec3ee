#!/usr/bin/env bash
# sensorfuse set-up on a fresh Debian machine, idempotent.
#
#   bash scripts/setup.sh run    install (system packages, .venv, sensorfuse) and run the main job on sample_data/
#   bash scripts/setup.sh test   install with the dev extras and run ruff, mypy and the whole test suite (under xvfb)
#
# Environment: PYTHON (default python3, >= 3.10), VENV (default .venv in the repository), PYTEST_ARGS (extra args),
# PYTEST_WORKERS (default 2), QUICK=1 (the quick tier: the tests not marked slow).
set -euo pipefail

mode="${1:-run}"
case "$mode" in run | test) ;; *) echo "usage: bash scripts/setup.sh run|test" >&2; exit 2 ;; esac

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-$PWD/.venv}"

# -- system packages: what Open3D, OpenCV and the headless viewer tests need ---------------------------------
# (README.md lists the same packages; tests/test_docs.py checks that the two lists agree)
apt_packages=(libusb-1.0-0 libgl1 libegl1 libgomp1 libglib2.0-0 xvfb xauth)
if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    apt_packages+=(python3-venv)  # Debian splits ensurepip out of python3
fi
missing=()
for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo ">> installing Debian packages: ${missing[*]}"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    # apt's and debconf's chatter goes to a log, shown only if the install fails
    apt_log="$(mktemp)"
    if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
        --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1; then
        cat "$apt_log" >&2
        echo "setup.sh: apt-get failed (log above)" >&2
        exit 1
    fi
    rm -f "$apt_log"
fi

# -- virtual environment and the package ---------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    echo ">> creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
extras=""
if [ "$mode" = test ]; then extras="[dev]"; fi
echo ">> installing sensorfuse$extras into $VENV"
"$PY" -m pip install -q --disable-pip-version-check -e ".$extras"

# -- the job ---------------------------------------------------------------------------------------------------
if [ "$mode" = run ]; then
    # Main job: synchronise the bundled simulator log (MCAP) into a dataset under out/ (replaced when complete).
    "$VENV/bin/fuse-info" sample_data/sim_small/log
    "$VENV/bin/fuse-sync" sample_data/sim_small/log -o out/sim_small_synced --overwrite
    echo ">> synchronised dataset: out/sim_small_synced (frames.csv, sync_report.json, rig.yaml, one folder per sensor)"
else
    echo ">> ruff"
    "$VENV/bin/ruff" check .
    "$VENV/bin/ruff" format --check .
    echo ">> mypy (the modules listed in pyproject's [tool.mypy] files)"
    "$VENV/bin/mypy"
    echo ">> pytest"
    # xvfb-run gives the viewer tests a display; -a picks a free server number. Two workers (pytest-xdist): tests
    # sharing an expensive session fixture are grouped onto one worker (tests/conftest.py), the rest spread out.
    # QUICK=1 runs the quick tier, -m "not slow" (docs/benchmarks.md has the timings of both).
    tier=()
    if [ "${QUICK:-0}" = 1 ]; then tier=(-m "not slow"); fi
    # shellcheck disable=SC2086
    # one BLAS thread per worker: two workers on two cores, no oversubscription (numba keeps its own threads)
    OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}" \
        xvfb-run -a -s "-screen 0 1280x1024x24" "$PY" -m pytest -n "${PYTEST_WORKERS:-2}" --dist loadgroup "${tier[@]}" \
        ${PYTEST_ARGS:-}
fi
