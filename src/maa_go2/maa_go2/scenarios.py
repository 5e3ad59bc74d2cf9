"""The paper's real-world Go2 tasks as simulated scenarios, driven through the deploy node's ``cmd_vel`` path.

Each scenario runs ``episodes`` randomized envs in parallel (domain randomization as in training, observation
noise on, no pushes). Every policy step a small controller emits a velocity command per env, which goes through
:class:`maa_go2.teleop.VelocityCommand` (the class the deploy node feeds from ``/cmd_vel``: limits, gait, timeout)
into the 15 walk-these-ways commands. After a 1 s stand (zero command), the task starts:

* ``turn_in_place``: yaw rate 1.5 rad/s for 4 s; success = heading change within 15 % of 6 rad, no fall.
* ``fast_backward``: vx -1.0 m/s for 5 s; success = distance within 15 % of 5 m, no fall.
* ``slalom_mat``: pure-pursuit waypoints around obstacles on the mat (:mod:`maa_go2.terrain`); success = every
  waypoint reached in order within the time limit, no fall and no footprint-obstacle overlap.

The agility report runs turn in place and fast backward twice: through the deploy path as configured (heading
control on: ``turn_in_place_success``, ``fast_backward_success``) and open loop, heading control off
(``*_open_loop_success``, the scenarios' definition before 2026-12-02, night), which tells the actor's own yaw
tracking apart from what the deploy path makes of it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from maa_core.rotations import wrap_angle, yaw_of
from maa_go2.control import POLICY_DT
from maa_go2.engines.mujoco_engine import MujocoGo2Env
from maa_go2.env_config import evaluation_env_config
from maa_go2.evaluation import ActorRunner
from maa_go2.teleop import TeleopConfig, VelocityCommand
from maa_go2.terrain import MatCourse, course_model, footprint_hits

SETTLE_S = 1.0
TOLERANCE = 0.15


def base_pose(env: MujocoGo2Env) -> tuple[np.ndarray, np.ndarray]:
    """``(xy [N,2], yaw [N])`` of every env's base in the world frame."""
    q = env.qpos
    return q[:, 0:2].copy(), yaw_of(q[:, 3:7])


@dataclass
class PursuitController:
    """Waypoint follower: turn toward the next waypoint, walk faster the better it is aligned."""

    max_speed: float = 1.0  #: [m/s]
    yaw_gain: float = 2.0  #: [rad/s per rad of heading error]
    max_yaw: float = 1.5
    min_speed: float = 0.15

    def command(self, xy: np.ndarray, yaw: np.ndarray, target: np.ndarray) -> np.ndarray:
        """``[N, 3]`` (vx, vy, yaw rate) toward ``target [N, 2]``."""
        d = target - xy
        err = wrap_angle(np.arctan2(d[:, 1], d[:, 0]) - yaw)
        yaw_rate = np.clip(self.yaw_gain * err, -self.max_yaw, self.max_yaw)
        vx = np.maximum(self.max_speed * np.cos(err), 0.0)
        vx = np.where(np.abs(err) > 0.8, self.min_speed, np.maximum(vx, self.min_speed))
        return np.stack([vx, np.zeros_like(vx), yaw_rate], axis=1)


class ScenarioRunner:
    """Parallel randomized envs, an actor, and one :class:`VelocityCommand` per env (the deploy node's path)."""

    def __init__(self, runner: ActorRunner, episodes: int, seconds: float, seed: int = 0, base_model=None,
                 teleop: TeleopConfig | None = None, env_factory=None, domain_rand=None):
        cfg = evaluation_env_config(episodes, seconds + SETTLE_S, runner.adaptation.history_len,
                                    domain_rand=domain_rand)
        make = env_factory or (lambda c, s: MujocoGo2Env(c, seed=s, base_model=base_model))
        self.env = make(cfg, seed)
        self.runner = runner
        self.velocity = [VelocityCommand(teleop or TeleopConfig()) for _ in range(episodes)]
        self.env.set_commands(np.stack([v.commands(0.0) for v in self.velocity]))
        self.env.reset()
        self.obs, self.hist = self.env.obs.copy(), self.env.get_obs_history()
        self.alive = np.ones(episodes, bool)
        self.t = 0.0

    def step(self, vel_cmd: np.ndarray) -> None:
        """Send ``vel_cmd [N, 3]`` through each env's VelocityCommand (with the env's measured heading, as the
        deploy node passes the IMU's), then one policy step."""
        for v, c in zip(self.velocity, vel_cmd):
            v.set(*c, now=self.t)
        _, heading = base_pose(self.env)
        self.env.set_commands(np.stack([v.commands(self.t, h) for v, h in zip(self.velocity, heading)]))
        self.obs, _, _, _, info = self.env.step(self.runner.act(self.obs, self.hist))
        self.hist = info["obs_history"]
        self.alive &= ~info["fell"]
        self.t += POLICY_DT

    def settle(self) -> None:
        for _ in range(int(round(SETTLE_S / POLICY_DT))):
            self.step(np.zeros((len(self.velocity), 3)))


def _constant(runner: ActorRunner, cmd: tuple[float, float, float], seconds: float, episodes: int, seed: int,
              domain_rand=None, teleop: TeleopConfig | None = None):
    sr = ScenarioRunner(runner, episodes, seconds, seed, domain_rand=domain_rand, teleop=teleop)
    sr.settle()
    xy0, yaw0 = base_pose(sr.env)
    heading, last_yaw = np.zeros(episodes), yaw0
    for _ in range(int(round(seconds / POLICY_DT))):
        sr.step(np.tile(cmd, (episodes, 1)))
        _, yaw = base_pose(sr.env)
        heading += wrap_angle(yaw - last_yaw)  # unwrapped heading change
        last_yaw = yaw
    xy, _ = base_pose(sr.env)
    return sr.alive, xy - xy0, yaw0, heading


def turn_in_place(runner: ActorRunner, episodes: int = 20, seed: int = 0, rate: float = 1.5,
                  seconds: float = 4.0, domain_rand=None, teleop: TeleopConfig | None = None) -> dict:
    """Turn at ``rate`` [rad/s] for ``seconds``; see the module docstring. Returns success rate and figures.
    ``domain_rand``: the robots' randomization (:func:`maa_go2.env_config.evaluation_env_config`), as in every
    scenario; ``teleop``: the deploy path's settings (default :class:`TeleopConfig`, heading control on)."""
    teleop = teleop or TeleopConfig()
    alive, _, _, heading = _constant(runner, (0.0, 0.0, rate), seconds, episodes, seed, domain_rand, teleop)
    target = rate * seconds
    ok = alive & (np.abs(heading - target) <= TOLERANCE * abs(target))
    return {"success": float(ok.mean()), "survival": float(alive.mean()), "target_rad": target,
            "heading_change_rad_mean": float(heading[alive].mean()) if alive.any() else 0.0,
            "heading_gain": teleop.heading_gain, "episodes": episodes}


def fast_backward(runner: ActorRunner, episodes: int = 20, seed: int = 0, speed: float = 1.0,
                  seconds: float = 5.0, domain_rand=None, teleop: TeleopConfig | None = None) -> dict:
    """Walk backward at ``speed`` [m/s] for ``seconds``; distance measured along the starting heading. ``teleop``:
    the deploy path's settings (default :class:`TeleopConfig`, heading control on). Returns the success rate and the
    mean distance [m] and mean |heading change| [rad] of the robots that did not fall."""
    teleop = teleop or TeleopConfig()
    alive, dxy, yaw0, heading = _constant(runner, (-speed, 0.0, 0.0), seconds, episodes, seed, domain_rand, teleop)
    back = -(dxy[:, 0] * np.cos(yaw0) + dxy[:, 1] * np.sin(yaw0))
    target = speed * seconds
    ok = alive & (np.abs(back - target) <= TOLERANCE * target)
    return {"success": float(ok.mean()), "survival": float(alive.mean()), "target_m": target,
            "distance_m_mean": float(back[alive].mean()) if alive.any() else 0.0,
            "heading_drift_rad_mean": float(np.abs(heading[alive]).mean()) if alive.any() else 0.0,
            "heading_gain": teleop.heading_gain, "episodes": episodes}


def slalom_mat(runner: ActorRunner, episodes: int = 20, seed: int = 0, course: MatCourse | None = None,
               controller: PursuitController | None = None, domain_rand=None) -> dict:
    """Follow the course's waypoints on the mat; see the module docstring."""
    course = course or MatCourse()
    ctl = controller or PursuitController()
    sr = ScenarioRunner(runner, episodes, course.time_limit_s, seed, base_model=course_model(course, seed),
                        domain_rand=domain_rand)
    sr.settle()
    wps = np.asarray(course.waypoints, dtype=np.float64)
    nxt = np.zeros(episodes, dtype=np.int64)
    hit = np.zeros(episodes, bool)
    done_at = np.full(episodes, np.nan)
    last = len(wps) - 1
    for k in range(int(round(course.time_limit_s / POLICY_DT))):
        xy, yaw = base_pose(sr.env)
        hit |= footprint_hits(xy, yaw, course) & sr.alive
        target = wps[np.minimum(nxt, last)]
        reached = (nxt <= last) & (np.linalg.norm(target - xy, axis=1) < course.waypoint_radius)
        nxt += reached
        done_at[reached & (nxt > last)] = (k + 1) * POLICY_DT
        finished = nxt > last
        if finished.all() or not sr.alive.any():
            break
        cmd = ctl.command(xy, yaw, wps[np.minimum(nxt, last)])
        cmd[finished] = 0.0  # stand once the course is done
        sr.step(cmd)
    finished = nxt >= len(wps)
    ok = finished & sr.alive & ~hit
    return {"success": float(ok.mean()), "survival": float(sr.alive.mean()), "obstacle_hits": int(hit.sum()),
            "waypoints_reached_mean": float(np.minimum(nxt, len(wps)).mean()), "num_waypoints": len(wps),
            "time_s_mean": float(np.nanmean(done_at)) if finished.any() else float("nan"), "episodes": episodes}
