# Source me: `source scripts/env.sh` gives a shell with the maa venv and the colcon overlay active.
# Works in bash and zsh. Run `bash scripts/setup.sh` (or `make setup`) first.
_maa_root="$(cd "$(dirname "${BASH_SOURCE[0]:-${(%):-%x}}")/.." && pwd)"
if [ ! -f "$_maa_root/.venv/bin/activate" ] || [ ! -f "$_maa_root/install/setup.bash" ]; then
  echo "maa: environment not set up; run 'make setup' (or bash scripts/setup.sh) in $_maa_root" >&2
  return 1 2>/dev/null || exit 1
fi
# shellcheck disable=SC1091
. "$_maa_root/.venv/bin/activate"
if [ "$(cat "$_maa_root/.venv/.maa-mode")" = "pypi-ros" ]; then
  # The venv is the ROS 2 install prefix (Kilted wheels from PyPI).
  export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
  export CMAKE_PREFIX_PATH="$VIRTUAL_ENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export LD_LIBRARY_PATH="$VIRTUAL_ENV/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if [ -n "${ZSH_VERSION:-}" ]; then . "$_maa_root/install/setup.zsh"; else . "$_maa_root/install/setup.bash"; fi
export MAA_ROOT="$_maa_root"
unset _maa_root
