#!/usr/bin/env bash
# Install the user's Isaac Gym (mounted at $ISAACGYM_DIR, default /opt/isaacgym) if present, then run the command.
set -eo pipefail
ISAACGYM_DIR="${ISAACGYM_DIR:-/opt/isaacgym}"
if [ -d "${ISAACGYM_DIR}/python" ] && ! python -c "import isaacgym" >/dev/null 2>&1; then
    echo "[maa] installing Isaac Gym from ${ISAACGYM_DIR}/python" >&2
    python -m pip install --no-deps -q -e "${ISAACGYM_DIR}/python" \
        || echo "[maa] Isaac Gym install failed (Preview 4 ships bindings for Python 3.6-3.8 only); the MuJoCo engine still works" >&2
elif [ ! -d "${ISAACGYM_DIR}" ]; then
    echo "[maa] no Isaac Gym mounted at ${ISAACGYM_DIR}; Go2 training uses the MuJoCo engine" >&2
fi
exec "$@"
