#!/usr/bin/env bash
# Install a working unitree_sdk2py (PyPI "unitree-sdk2" 1.0.1) into the active Python environment.
#
# Idempotent: safe to run again; every step checks before it acts.
#
#   1. Cyclone DDS C library: a CYCLONEDDS_HOME given by the caller that has lib/libddsc.so (e.g. /opt/ros/jazzy,
#      whose ros-jazzy-cyclonedds is a complete install) is used as is; otherwise apt cyclonedds-dev (0.10.x).
#   2. CYCLONEDDS_HOME for the Debian package: it keeps libddsc in /usr/lib/<multiarch>, but cyclonedds-python's
#      build wants $CYCLONEDDS_HOME/{lib,include,bin}; we build a folder of symlinks at <sys.prefix>/opt/cyclonedds.
#   3. pip: cyclonedds==0.10.2 (built from the sdist against that folder) and unitree-sdk2==1.0.1 with --no-deps
#      (its only other dependency, opencv-python, is needed by the video client only; numpy is already there).
#   4. Patch the 1.0.1 wheel: its __init__ imports a `b2` subpackage the wheel lacks -> import only what exists.
#      Its utils/crc.py loads lib/crc_amd64.so (also missing): maa never calls it; maa_deploy.sdk_compat routes the
#      SDK's CRC class to maa_deploy.unitree_wire (pure Python/numpy) at import time.
#
# Usage: source .venv/bin/activate && bash scripts/fix_unitree_sdk.sh
# Env:   CYCLONEDDS_HOME (an existing Cyclone DDS install to build against), SKIP_APT=1 (never run apt-get).
set -euo pipefail

PY="${PYTHON:-python3}"
SDK_VERSION="1.0.1"
CDDS_VERSION="0.10.2"

log() { printf '[fix_unitree_sdk] %s\n' "$*"; }

# ---------------------------------------------------------------- 1+2. Cyclone DDS C library and CYCLONEDDS_HOME
PREFIX="$("$PY" -c 'import sys; print(sys.prefix)')"
if [ -n "${CYCLONEDDS_HOME:-}" ] && ls "${CYCLONEDDS_HOME}"/lib/libddsc.so* >/dev/null 2>&1; then
    # a complete install given by the caller, e.g. ROS 2's: CYCLONEDDS_HOME=/opt/ros/jazzy
    log "using CYCLONEDDS_HOME=${CYCLONEDDS_HOME} as given"
else
    if [ "${SKIP_APT:-0}" != "1" ] && ! dpkg -s cyclonedds-dev >/dev/null 2>&1; then
        log "installing cyclonedds-dev (apt)"
        SUDO=""
        if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends cyclonedds-dev
    fi
    MULTIARCH="$(gcc -print-multiarch 2>/dev/null || echo "$(uname -m)-linux-gnu")"
    LIBDIR="/usr/lib/${MULTIARCH}"
    if [ ! -e "${LIBDIR}/libddsc.so" ]; then
        log "ERROR: ${LIBDIR}/libddsc.so not found; install cyclonedds-dev (Debian/Ubuntu) first" >&2
        exit 1
    fi
    # Debian keeps libddsc in /usr/lib/<multiarch>; cyclonedds-python wants $CYCLONEDDS_HOME/{lib,include,bin}
    export CYCLONEDDS_HOME="${PREFIX}/opt/cyclonedds"
    mkdir -p "${CYCLONEDDS_HOME}/lib" "${CYCLONEDDS_HOME}/bin"
    for f in "${LIBDIR}"/libddsc.so* "${LIBDIR}"/libcycloneddsidl.so* "${LIBDIR}/cmake/CycloneDDS"; do
        if [ -e "$f" ]; then ln -sfn "$f" "${CYCLONEDDS_HOME}/lib/$(basename "$f")"; fi
    done
    ln -sfn /usr/include "${CYCLONEDDS_HOME}/include"
    for b in idlc ddsperf; do
        if command -v "$b" >/dev/null 2>&1; then ln -sfn "$(command -v "$b")" "${CYCLONEDDS_HOME}/bin/$b"; fi
    done
    log "CYCLONEDDS_HOME=${CYCLONEDDS_HOME} (symlinks to the Debian package)"
fi

# ---------------------------------------------------------------- 3. Python packages
if ! "$PY" -c "import cyclonedds, importlib.metadata as m; assert m.version('cyclonedds') == '${CDDS_VERSION}'" \
        2>/dev/null; then
    log "building cyclonedds==${CDDS_VERSION} against ${CYCLONEDDS_HOME}"
    "$PY" -m pip install -q --no-binary cyclonedds "cyclonedds==${CDDS_VERSION}"
fi
if ! "$PY" -c "import importlib.metadata as m; assert m.version('unitree_sdk2') == '${SDK_VERSION}'" 2>/dev/null; then
    log "installing unitree-sdk2==${SDK_VERSION} (--no-deps)"
    "$PY" -m pip install -q --no-deps "unitree-sdk2==${SDK_VERSION}"
fi

# ---------------------------------------------------------------- 4. Patch the incomplete wheel
SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
INIT="${SITE}/unitree_sdk2py/__init__.py"
if [ ! -d "${SITE}/unitree_sdk2py/b2" ] && grep -qE "^from \. import .*\bb2\b" "${INIT}"; then
    log "patching ${INIT}: the wheel has no b2 subpackage"
    cat > "${INIT}" <<'EOF'
# Patched by maa scripts/fix_unitree_sdk.sh: the unitree-sdk2 1.0.1 wheel lacks the b2 subpackage
# its original __init__ imported; import the subpackages that exist.
from . import idl, utils, core, rpc, go2

__all__ = ["idl", "utils", "core", "rpc", "go2"]
EOF
fi

# ---------------------------------------------------------------- 5. Verify
"$PY" - <<'EOF'
from maa_deploy.sdk_compat import import_sdk, sdk_crc_matches_pure

sdk = import_sdk()
print("[fix_unitree_sdk] unitree_sdk2py imports from", sdk.__file__)
print("[fix_unitree_sdk] SDK CRC routed to maa pure implementation:", sdk_crc_matches_pure())
EOF
log "done"
