# maa deploy image for the Go2 (or its simulation): ROS 2 Jazzy, Cyclone DDS, unitree_sdk2py (fixed), colcon build.
# Multi-arch (the ros:jazzy images are published for amd64 and arm64, e.g. a Jetson on the robot):
#   docker buildx build --platform linux/amd64,linux/arm64 -f docker/Dockerfile.robot -t maa/robot .
# Run on the robot network (host networking for DDS):
#   docker run --rm -it --net=host --cap-add SYS_NICE --ulimit rtprio=90 maa/robot ros2 launch maa_deploy go2.launch.py robot:=real network_interface:=eth0
ARG ROS_DISTRO=jazzy
FROM ros:${ROS_DISTRO}-ros-base

ARG ROS_DISTRO
# 1: also install the generator's runtime (CPU torch + diffusers) so the whole graph runs in this image (the sim demo);
# 0: deploy-only image for the robot computer (the generator runs elsewhere and publishes PolicyWeights over DDS).
ARG WITH_GENERATOR=1
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_BREAK_SYSTEM_PACKAGES=1 \
    RMW_IMPLEMENTATION=rmw_cyclonedds_cpp \
    CYCLONEDDS_HOME=/opt/ros/${ROS_DISTRO} \
    MAA_WS=/opt/maa_ws \
    OPENBLAS_NUM_THREADS=1 \
    OMP_NUM_THREADS=1

# Cyclone DDS (ROS's complete install doubles as CYCLONEDDS_HOME for cyclonedds-python), build tools for its
# C extension, Python deps of the ROS-free core available from apt, OSMesa for headless rendering (the sim demo's
# clips; docs/visuals.md).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ros-${ROS_DISTRO}-rmw-cyclonedds-cpp \
        ros-${ROS_DISTRO}-cyclonedds \
        build-essential \
        cmake \
        libosmesa6 \
        python3-pip \
        python3-dev \
        python3-numpy \
        python3-yaml \
    && rm -rf /var/lib/apt/lists/*

WORKDIR ${MAA_WS}
# Python packages not in apt, at the repository's pinned versions.
COPY requirements/constraints.txt requirements/constraints.txt
RUN python3 -m pip install -c requirements/constraints.txt safetensors mujoco omegaconf \
    && if [ "${WITH_GENERATOR}" = "1" ]; then \
        python3 -m pip install -c requirements/constraints.txt --extra-index-url https://download.pytorch.org/whl/cpu \
            torch diffusers tqdm packaging; \
    fi
COPY scripts/fix_unitree_sdk.sh scripts/fix_unitree_sdk.sh
COPY src/ src/
COPY launch/ launch/
COPY config/ config/
COPY bench/ bench/

# The ROS-free packages (editable-free, plain installs) so sdk_compat is importable for the fix's self-check,
# then the unitree SDK (cyclonedds==0.10.2 built against ROS's Cyclone DDS, unitree-sdk2==1.0.1 patched).
RUN python3 -m pip install --no-deps ./src/maa_core ./src/maa_generator ./src/maa_go2 ./src/maa_deploy \
    && SKIP_APT=1 PYTHON=python3 bash scripts/fix_unitree_sdk.sh

# colcon build of the whole workspace (maa_msgs interfaces + the ament_python packages).
RUN . /opt/ros/${ROS_DISTRO}/setup.bash \
    && colcon build --merge-install --event-handlers console_direct- \
    && rm -rf build log

RUN printf 'source /opt/ros/%s/setup.bash\nsource %s/install/setup.bash\n' "${ROS_DISTRO}" "${MAA_WS}" \
        > /etc/profile.d/maa.sh
COPY docker/entrypoint_robot.sh /usr/local/bin/maa-entrypoint
ENTRYPOINT ["/usr/local/bin/maa-entrypoint"]
CMD ["bash"]
