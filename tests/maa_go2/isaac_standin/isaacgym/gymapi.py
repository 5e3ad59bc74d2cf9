"""Stand-in ``isaacgym.gymapi``: value classes, constants and a ``Gym`` whose simulation lives in CPU torch tensors.

Method names, parameter lists and value-class attributes follow Isaac Gym Preview 4 (checked against the
``isaacgym-stubs`` signatures by ``tests/maa_go2/test_isaac_contract.py``). The loaded asset is always a Go2-shaped
articulation (17 bodies: base + 4 x hip/thigh/calf/foot, 12 revolute DOFs, one collision shape per body), whatever
file is named. ``Sim.on_simulate`` (a callable taking the ``Sim``) runs after each ``simulate`` so that a test can
prescribe states and contact forces per physics step.
"""
from __future__ import annotations

import copy
import time

import numpy as np
import torch

# ----------------------------------------------------------------------------------------------- constants


class SimType(int):
    """``gymapi.SimType`` (an enum in the real module)."""


SIM_PHYSX = SimType(0)
SIM_FLEX = SimType(1)
DOF_MODE_NONE, DOF_MODE_POS, DOF_MODE_VEL, DOF_MODE_EFFORT = 0, 1, 2, 3
UP_AXIS_Y, UP_AXIS_Z = 0, 1
CC_NEVER, CC_LAST_SUBSTEP, CC_ALL_SUBSTEPS = 0, 1, 2
KEY_ESCAPE, KEY_V = 256, 86
INVALID_HANDLE = -1
DOF_PROPERTIES_DTYPE = np.dtype([("hasLimits", "?"), ("lower", "<f4"), ("upper", "<f4"), ("driveMode", "<i4"),
                                 ("velocity", "<f4"), ("effort", "<f4"), ("stiffness", "<f4"), ("damping", "<f4"),
                                 ("friction", "<f4"), ("armature", "<f4")])


# ----------------------------------------------------------------------------------------------- value classes
class _Strict:
    """A value object that, like a pybind11 class, accepts only its declared attributes."""

    _FIELDS: dict = {}

    def __init__(self, **values) -> None:
        for key, default in self._FIELDS.items():
            object.__setattr__(self, key, copy.copy(default))
        for key, value in values.items():
            setattr(self, key, value)

    def __setattr__(self, key, value) -> None:
        if key not in self._FIELDS:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{key}'")
        object.__setattr__(self, key, value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={getattr(self, k)!r}' for k in self._FIELDS)})"


class Vec3(_Strict):
    _FIELDS = {"x": 0.0, "y": 0.0, "z": 0.0}

    def __init__(self, x=0.0, y=0.0, z=0.0) -> None:
        super().__init__(x=float(x), y=float(y), z=float(z))


class Quat(_Strict):
    _FIELDS = {"x": 0.0, "y": 0.0, "z": 0.0, "w": 1.0}

    def __init__(self, x=0.0, y=0.0, z=0.0, w=1.0) -> None:
        super().__init__(x=float(x), y=float(y), z=float(z), w=float(w))


class Transform(_Strict):
    _FIELDS = {"p": None, "r": None}

    def __init__(self, p=None, r=None) -> None:
        super().__init__(p=p if p is not None else Vec3(), r=r if r is not None else Quat())


class PlaneParams(_Strict):
    _FIELDS = {"normal": None, "distance": 0.0, "static_friction": 1.0, "dynamic_friction": 1.0, "restitution": 0.0,
               "segmentation_id": 0}


class AssetOptions(_Strict):
    _FIELDS = {"angular_damping": 0.5, "armature": 0.0, "collapse_fixed_joints": False,
               "convex_decomposition_from_submeshes": False, "default_dof_drive_mode": DOF_MODE_POS,
               "density": 1000.0, "disable_gravity": False, "enable_gyroscopic_forces": True, "fix_base_link": False,
               "flip_visual_attachments": False, "linear_damping": 0.0, "max_angular_velocity": 64.0,
               "max_linear_velocity": 1000.0, "mesh_normal_mode": 0, "min_particle_mass": 1e-12,
               "override_com": False, "override_inertia": False, "replace_cylinder_with_capsule": False,
               "slices_per_cylinder": 20, "tendon_limit_stiffness": 1.0, "thickness": 0.02,
               "use_mesh_materials": False, "use_physx_armature": True, "vhacd_enabled": False, "vhacd_params": None}


class RigidShapeProperties(_Strict):
    _FIELDS = {"compliance": 0.0, "contact_offset": 0.0, "filter": 0, "friction": 1.0, "rest_offset": 0.0,
               "restitution": 0.0, "rolling_friction": 0.0, "thickness": 0.0, "torsion_friction": 0.0}


class RigidBodyProperties(_Strict):
    _FIELDS = {"com": None, "flags": 0, "inertia": None, "mass": 1.0}


class PhysXParams(_Strict):
    _FIELDS = {"always_use_articulations": False, "bounce_threshold_velocity": 0.2, "contact_collection": 1,
               "contact_offset": 0.02, "default_buffer_size_multiplier": 2.0, "friction_correlation_distance": 0.025,
               "friction_offset_threshold": 0.04, "max_depenetration_velocity": 100.0,
               "max_gpu_contact_pairs": 1024 * 1024, "num_position_iterations": 4, "num_subscenes": 0,
               "num_threads": 0, "num_velocity_iterations": 1, "rest_offset": 0.001, "solver_type": 1,
               "use_gpu": False}


class SimParams(_Strict):
    _FIELDS = {"dt": 1.0 / 60.0, "enable_actor_creation_warning": True, "flex": None, "gravity": None,
               "num_client_threads": 0, "physx": None, "stress_visualization": False,
               "stress_visualization_max": 1e5, "stress_visualization_min": 0.0, "substeps": 2,
               "up_axis": UP_AXIS_Y, "use_gpu_pipeline": False}

    def __init__(self) -> None:
        super().__init__(physx=PhysXParams(), gravity=Vec3(0.0, -9.8, 0.0))


class CameraProperties(_Strict):
    _FIELDS = {"width": 1600, "height": 900, "horizontal_fov": 90.0}


class Tensor:
    """``gymapi.Tensor``: a handle on a simulation buffer (``gymtorch.wrap_tensor`` gives the torch view)."""

    def __init__(self, data: torch.Tensor, kind: str = "user") -> None:
        self.data, self.kind = data, kind


# ----------------------------------------------------------------------------------------------- the Go2 asset
LEGS = ("FL", "FR", "RL", "RR")
_SIDE = {"FL": (1, 1), "FR": (1, -1), "RL": (-1, 1), "RR": (-1, -1)}
#: (lower, upper) per joint type and leg end (front, rear) [rad], velocity [rad/s], effort [N.m] (Go2 URDF)
_LIMITS = {"hip": ((-1.0472, 1.0472), (-1.0472, 1.0472), 30.1, 23.7),
           "thigh": ((-1.5708, 3.4907), (-0.5236, 4.5379), 30.1, 23.7),
           "calf": ((-2.7227, -0.8378), (-2.7227, -0.8378), 15.7, 45.43)}
_MASS = {"base": 6.921, "hip": 0.678, "thigh": 1.152, "calf": 0.154, "foot": 0.04}


class Asset:
    """A loaded asset: the Go2 articulation (see the module doc)."""

    def __init__(self, root: str, filename: str, options: AssetOptions) -> None:
        self.root, self.filename, self.options = root, filename, copy.copy(options)
        self.body_names = ["base"] + [f"{leg}_{part}" for leg in LEGS for part in ("hip", "thigh", "calf", "foot")]
        self.dof_names = [f"{leg}_{j}_joint" for leg in LEGS for j in ("hip", "thigh", "calf")]
        self.offsets = np.zeros((len(self.body_names), 3))  # position relative to the base, legs straight down
        for i, name in enumerate(self.body_names[1:], start=1):
            leg, part = name.split("_")
            sx, sy = _SIDE[leg]
            hip = np.array([0.1934 * sx, 0.0465 * sy, 0.0])
            step = {"hip": 0.0, "thigh": 0.0, "calf": -0.213, "foot": -0.426}[part]
            self.offsets[i] = hip + (np.array([0.0, 0.0955 * sy, step]) if part != "hip" else 0.0)
        self.dof_props = np.zeros(len(self.dof_names), dtype=DOF_PROPERTIES_DTYPE)
        for i, name in enumerate(self.dof_names):
            leg, jtype = name.split("_")[:2]
            front, rear, vel, effort = _LIMITS[jtype]
            lo, hi = front if leg.startswith("F") else rear
            self.dof_props[i] = (True, lo, hi, options.default_dof_drive_mode, vel, effort, 0.0, 0.0, 0.0, 0.0)
        self.shape_props = [RigidShapeProperties() for _ in self.body_names]
        self.body_props = [RigidBodyProperties(mass=_MASS[n.split("_")[-1]]) for n in self.body_names]


class Env:
    def __init__(self, index: int) -> None:
        self.index, self.actors = index, []


class _Actor:
    def __init__(self, env: Env, asset: Asset, pose: Transform, name, group: int, filt: int) -> None:
        self.env, self.asset, self.name, self.group, self.filter = env, asset, name, group, filt
        self.pose = pose
        self.shape_props = [copy.copy(p) for p in asset.shape_props]
        self.body_props = [copy.copy(p) for p in asset.body_props]
        self.dof_props = asset.dof_props.copy()


class Sim:
    """The simulation state: ``root [actors, 13]``, ``dof [dofs, 2]``, ``body [bodies, 13]``, ``contact [bodies, 3]``
    (CPU float32), integrated by a toy dynamics; ``on_simulate(sim)`` may overwrite any of them after each step."""

    JOINT_INERTIA = 0.05  #: [kg m^2] of every DOF in the toy dynamics
    FOOT_LOAD = 30.0  #: [N] normal force on a foot below FOOT_CONTACT_Z
    FOOT_CONTACT_Z = 0.03

    def __init__(self, device: int, graphics: int, sim_type, params: SimParams) -> None:
        self.device, self.graphics, self.type, self.params = device, graphics, sim_type, params
        self.envs: list[Env] = []
        self.actors: list[_Actor] = []
        self.ground: PlaneParams | None = None
        self.prepared = False
        self.steps, self.time, self.wall0 = 0, 0.0, time.time()
        self.on_simulate = None
        self.actuation = None
        self.buffers: dict[str, torch.Tensor] = {}

    # -------------------------------------------------------------------------- layout
    def prepare(self) -> None:
        self.prepared = True
        nb = sum(len(a.asset.body_names) for a in self.actors)
        nd = sum(len(a.asset.dof_names) for a in self.actors)
        self.root = torch.zeros(len(self.actors), 13)
        for i, a in enumerate(self.actors):
            p, r = a.pose.p, a.pose.r
            self.root[i, :7] = torch.tensor([p.x, p.y, p.z, r.x, r.y, r.z, r.w])
        self.dof = torch.zeros(nd, 2)
        self.body = torch.zeros(nb, 13)
        self.contact = torch.zeros(nb, 3)
        self.actuation = torch.zeros(nd)
        self._place_bodies()

    def bodies_per_actor(self) -> int:
        return len(self.actors[0].asset.body_names)

    def dofs_per_actor(self) -> int:
        return len(self.actors[0].asset.dof_names)

    def _place_bodies(self) -> None:
        offsets = torch.as_tensor(self.actors[0].asset.offsets, dtype=torch.float32)
        body = self.body.view(len(self.actors), -1, 13)
        rot = _quat_to_matrix(self.root[:, 3:7])
        body[:, :, :3] = self.root[:, None, :3] + torch.einsum("aij,bj->abi", rot, offsets)
        body[:, :, 3:7] = self.root[:, None, 3:7]
        body[:, :, 7:10] = self.root[:, None, 7:10]
        body[:, :, 10:13] = self.root[:, None, 10:13]

    # -------------------------------------------------------------------------- toy dynamics
    def step(self) -> None:
        dt = float(self.params.dt)
        self.dof_at_step_start = self.dof.clone()  # for tests: the DOF state the step's actuation was computed from
        vel = self.dof[:, 1] + dt * self.actuation / self.JOINT_INERTIA
        self.dof[:, 1] = vel
        self.dof[:, 0] += dt * vel
        self.root[:, :3] += dt * self.root[:, 7:10]
        self._place_bodies()
        body = self.body.view(len(self.actors), -1, 13)
        feet = [i for i, n in enumerate(self.actors[0].asset.body_names) if n.endswith("foot")]
        contact = self.contact.view(len(self.actors), -1, 3)
        contact.zero_()
        contact[:, feet, 2] = (body[:, feet, 2] < self.FOOT_CONTACT_Z).float() * self.FOOT_LOAD
        self.steps += 1
        self.time += dt
        if self.on_simulate is not None:
            self.on_simulate(self)


def _quat_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """``[N, 4]`` (x, y, z, w) -> ``[N, 3, 3]``."""
    x, y, z, w = q.unbind(-1)
    return torch.stack([
        torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        torch.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        torch.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1)], -2)


# ----------------------------------------------------------------------------------------------- the Gym
class Gym:
    """The ``Gym`` interface (only what legged_gym and the Go2 task call). ``calls`` records every call's name."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def _log(self, name: str) -> None:
        self.calls.append(name)

    @staticmethod
    def _actor(env: Env, handle: int) -> _Actor:
        if not 0 <= handle < len(env.actors):
            raise IndexError(f"no actor {handle} in env {env.index}")
        return env.actors[handle]

    # -------------------------------------------------------------------------- creation
    def create_sim(self, compute_device=0, graphics_device=0, type=SIM_FLEX, params=None) -> Sim:  # noqa: A002
        self._log("create_sim")
        if not isinstance(params, SimParams):
            raise TypeError("create_sim: params must be a gymapi.SimParams")
        return Sim(compute_device, graphics_device, type, params)

    def add_ground(self, sim: Sim, params: PlaneParams) -> None:
        self._log("add_ground")
        sim.ground = copy.copy(params)

    def load_asset(self, sim: Sim, rootpath: str, filename: str, options: AssetOptions = None) -> Asset:
        self._log("load_asset")
        if not filename.endswith((".urdf", ".xml", ".usd")):
            raise ValueError(f"load_asset: unsupported file {filename}")
        return Asset(rootpath, filename, options if options is not None else AssetOptions())

    def get_asset_dof_count(self, arg0: Asset) -> int:
        return len(arg0.dof_names)

    def get_asset_rigid_body_count(self, arg0: Asset) -> int:
        return len(arg0.body_names)

    def get_asset_dof_properties(self, arg0: Asset):
        return arg0.dof_props.copy()

    def get_asset_rigid_shape_properties(self, arg0: Asset) -> list:
        return [copy.copy(p) for p in arg0.shape_props]

    def set_asset_rigid_shape_properties(self, arg0: Asset, arg1: list) -> bool:
        self._check_props(arg1, RigidShapeProperties, len(arg0.shape_props))
        arg0.shape_props = [copy.copy(p) for p in arg1]
        return True

    def get_asset_rigid_body_names(self, arg0: Asset) -> list:
        return list(arg0.body_names)

    def get_asset_dof_names(self, arg0: Asset) -> list:
        return list(arg0.dof_names)

    def create_env(self, arg0: Sim, arg1: Vec3, arg2: Vec3, arg3: int) -> Env:
        self._log("create_env")
        if arg0.prepared:
            raise RuntimeError("create_env after prepare_sim")
        env = Env(len(arg0.envs))
        env.sim = arg0
        arg0.envs.append(env)
        return env

    def create_actor(self, env: Env, asset: Asset, pose: Transform, name: str = None, group: int = -1,
                     filter: int = -1, segmentationId: int = 0) -> int:  # noqa: A002, N803
        self._log("create_actor")
        if env.sim.prepared:
            raise RuntimeError("create_actor after prepare_sim")
        actor = _Actor(env, asset, copy.deepcopy(pose), name, group, filter)
        env.actors.append(actor)
        env.sim.actors.append(actor)
        return len(env.actors) - 1

    def set_actor_dof_properties(self, arg0: Env, arg1: int, arg2) -> bool:
        actor = self._actor(arg0, arg1)
        if arg2.dtype != DOF_PROPERTIES_DTYPE or len(arg2) != len(actor.dof_props):
            raise TypeError("set_actor_dof_properties: expected the asset's DOF property array")
        actor.dof_props = arg2.copy()
        return True

    def get_actor_rigid_body_properties(self, arg0: Env, arg1: int) -> list:
        return [copy.copy(p) for p in self._actor(arg0, arg1).body_props]

    def set_actor_rigid_body_properties(self, env: Env, actorHandle: int, props: list,
                                        recomputeInertia: bool = False) -> bool:  # noqa: N803
        self._log("set_actor_rigid_body_properties")
        actor = self._actor(env, actorHandle)
        self._check_props(props, RigidBodyProperties, len(actor.body_props))
        actor.body_props = [copy.copy(p) for p in props]
        return True

    def get_actor_rigid_shape_properties(self, arg0: Env, arg1: int) -> list:
        return [copy.copy(p) for p in self._actor(arg0, arg1).shape_props]

    def set_actor_rigid_shape_properties(self, arg0: Env, arg1: int, arg2: list) -> bool:
        self._log("set_actor_rigid_shape_properties")
        actor = self._actor(arg0, arg1)
        self._check_props(arg2, RigidShapeProperties, len(actor.shape_props))
        actor.shape_props = [copy.copy(p) for p in arg2]
        return True

    def find_actor_rigid_body_handle(self, arg0: Env, arg1: int, arg2: str) -> int:
        names = self._actor(arg0, arg1).asset.body_names
        return names.index(arg2) if arg2 in names else INVALID_HANDLE

    def get_actor_rigid_body_names(self, arg0: Env, arg1: int) -> list:
        return list(self._actor(arg0, arg1).asset.body_names)

    @staticmethod
    def _check_props(props, cls, count: int) -> None:
        if len(props) != count or not all(isinstance(p, cls) for p in props):
            raise TypeError(f"expected {count} {cls.__name__}, got {len(props)}")

    # -------------------------------------------------------------------------- tensors
    def prepare_sim(self, arg0: Sim) -> bool:
        self._log("prepare_sim")
        arg0.prepare()
        return True

    def _acquire(self, sim: Sim, kind: str) -> Tensor:
        self._log(f"acquire_{kind}")
        if not sim.prepared:
            raise RuntimeError(f"acquire {kind} tensor before prepare_sim")
        if kind not in sim.buffers:
            sim.buffers[kind] = getattr(sim, kind).clone()  # stale until refreshed, as a real GPU buffer
        return Tensor(sim.buffers[kind], kind)

    def _refresh(self, sim: Sim, kind: str) -> bool:
        self._log(f"refresh_{kind}")
        if kind in sim.buffers:
            sim.buffers[kind].copy_(getattr(sim, kind))
        return True

    def acquire_actor_root_state_tensor(self, arg0: Sim) -> Tensor:
        return self._acquire(arg0, "root")

    def acquire_dof_state_tensor(self, arg0: Sim) -> Tensor:
        return self._acquire(arg0, "dof")

    def acquire_net_contact_force_tensor(self, arg0: Sim) -> Tensor:
        return self._acquire(arg0, "contact")

    def acquire_rigid_body_state_tensor(self, arg0: Sim) -> Tensor:
        return self._acquire(arg0, "body")

    def refresh_actor_root_state_tensor(self, arg0: Sim) -> bool:
        return self._refresh(arg0, "root")

    def refresh_dof_state_tensor(self, arg0: Sim) -> bool:
        return self._refresh(arg0, "dof")

    def refresh_net_contact_force_tensor(self, arg0: Sim) -> bool:
        return self._refresh(arg0, "contact")

    def refresh_rigid_body_state_tensor(self, arg0: Sim) -> bool:
        return self._refresh(arg0, "body")

    @staticmethod
    def _data(t: Tensor, shape_numel: int, what: str) -> torch.Tensor:
        if not isinstance(t, Tensor):
            raise TypeError(f"{what}: expected a gymapi.Tensor (gymtorch.unwrap_tensor)")
        if t.data.numel() != shape_numel or t.data.dtype != torch.float32:
            raise ValueError(f"{what}: expected {shape_numel} float32 values, got {t.data.numel()} {t.data.dtype}")
        return t.data

    @staticmethod
    def _indices(t: Tensor, n: int, limit: int, what: str) -> torch.Tensor:
        if not isinstance(t, Tensor) or t.data.dtype != torch.int32:
            raise TypeError(f"{what}: actor indices must be an int32 gymapi.Tensor")
        idx = t.data.long()
        if idx.numel() < n or (n and (idx[:n].min() < 0 or idx[:n].max() >= limit)):
            raise IndexError(f"{what}: bad actor indices")
        return idx[:n]

    def set_dof_actuation_force_tensor(self, arg0: Sim, arg1: Tensor) -> bool:
        self._log("set_dof_actuation_force_tensor")
        arg0.actuation = self._data(arg1, arg0.actuation.numel(), "set_dof_actuation_force_tensor").reshape(-1).clone()
        return True

    def set_dof_state_tensor_indexed(self, arg0: Sim, arg1: Tensor, arg2: Tensor, arg3: int) -> bool:
        self._log("set_dof_state_tensor_indexed")
        data = self._data(arg1, arg0.dof.numel(), "set_dof_state_tensor_indexed").reshape(len(arg0.actors), -1, 2)
        ids = self._indices(arg2, arg3, len(arg0.actors), "set_dof_state_tensor_indexed")
        arg0.dof.view(len(arg0.actors), -1, 2)[ids] = data[ids]
        return True

    def set_actor_root_state_tensor(self, arg0: Sim, arg1: Tensor) -> bool:
        self._log("set_actor_root_state_tensor")
        arg0.root[:] = self._data(arg1, arg0.root.numel(), "set_actor_root_state_tensor").reshape(-1, 13)
        return True

    def set_actor_root_state_tensor_indexed(self, arg0: Sim, arg1: Tensor, arg2: Tensor, arg3: int) -> bool:
        self._log("set_actor_root_state_tensor_indexed")
        data = self._data(arg1, arg0.root.numel(), "set_actor_root_state_tensor_indexed").reshape(-1, 13)
        ids = self._indices(arg2, arg3, len(arg0.actors), "set_actor_root_state_tensor_indexed")
        arg0.root[ids] = data[ids]
        return True

    # -------------------------------------------------------------------------- stepping
    def simulate(self, arg0: Sim) -> None:
        self._log("simulate")
        if not arg0.prepared:
            raise RuntimeError("simulate before prepare_sim")
        arg0.step()

    def fetch_results(self, arg0: Sim, arg1: bool) -> None:
        self._log("fetch_results")

    def get_sim_time(self, arg0: Sim) -> float:
        return arg0.time

    def get_elapsed_time(self, arg0: Sim) -> float:
        return time.time() - arg0.wall0

    # -------------------------------------------------------------------------- viewer (headless runs only)
    def create_viewer(self, arg0: Sim, arg1: CameraProperties):
        raise RuntimeError("the stand-in has no viewer: run headless")


def acquire_gym(*args, **kwargs) -> Gym:
    return Gym()
