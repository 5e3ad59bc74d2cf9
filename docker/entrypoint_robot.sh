#!/usr/bin/env bash
# Source ROS 2 and the maa workspace, then run the given command.
set -eo pipefail
# shellcheck disable=SC1091
source "/opt/ros/${ROS_DISTRO:-jazzy}/setup.bash"
# shellcheck disable=SC1091
source "${MAA_WS:-/opt/maa_ws}/install/setup.bash"
exec "$@"
