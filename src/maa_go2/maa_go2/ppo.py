"""Compact PPO (rsl_rl-style: GAE, clipped surrogate and value loss, adaptive KL learning rate) plus the
walk-these-ways adaptation-module regression step."""
from __future__ import annotations

import torch
from torch import nn

from maa_go2.actor_critic import ActorCritic
from maa_go2.train_config import PPOConfig  # defined without torch (the Isaac runner's config)

__all__ = ["PPO", "PPOConfig", "RolloutStorage"]


class RolloutStorage:
    """Per-step buffers ``[T, N, ...]`` of one PPO iteration, on ``device`` (the PPO update then runs there)."""

    def __init__(self, t: int, n: int, actor_dim: int, obs_dim: int, priv_dim: int, hist_dim: int, device=None):
        z = lambda *s: torch.zeros(t, n, *s, device=device)  # noqa: E731
        self.actor_in, self.obs, self.priv, self.hist = z(actor_dim), z(obs_dim), z(priv_dim), z(hist_dim)
        self.actions, self.logp, self.values = z(12), z(), z()
        self.rewards, self.dones = z(), z()
        self.returns, self.adv = z(), z()
        self.step = 0

    def add(self, **kw) -> None:
        for k, v in kw.items():
            getattr(self, k)[self.step] = v
        self.step += 1

    def compute_returns(self, last_value: torch.Tensor, gamma: float, lam: float) -> None:
        gae = torch.zeros_like(last_value)
        for t in reversed(range(self.step)):
            next_v = last_value if t == self.step - 1 else self.values[t + 1]
            nonterm = 1.0 - self.dones[t]
            delta = self.rewards[t] + gamma * next_v * nonterm - self.values[t]
            gae = delta + gamma * lam * nonterm * gae
            self.returns[t] = gae + self.values[t]
        adv = self.returns - self.values
        self.adv = (adv - adv.mean()) / (adv.std() + 1e-8)


class PPO:
    def __init__(self, ac: ActorCritic, cfg: PPOConfig):
        self.ac, self.cfg = ac, cfg
        params = [p for n, p in ac.named_parameters() if not n.startswith("adaptation.")]
        self.opt = torch.optim.Adam(params, lr=cfg.lr)
        self.adapt_opt = torch.optim.Adam(ac.adaptation.parameters(), lr=cfg.adaptation_lr)
        self.lr = cfg.lr
        self.train_adaptation = True  #: False: the adaptation module is frozen (pretrained), only its loss is logged

    def update(self, st: RolloutStorage) -> dict[str, float]:
        cfg, ac = self.cfg, self.ac
        t, n = st.step, st.rewards.shape[1]
        flat = lambda x: x[:t].reshape(t * n, *x.shape[2:])  # noqa: E731
        data = {k: flat(getattr(st, k)) for k in ("actor_in", "obs", "priv", "hist", "actions", "logp", "values",
                                                   "returns", "adv")}
        total = t * n
        mb = total // cfg.minibatches
        stats = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "kl": 0.0, "adaptation_loss": 0.0}
        count = adapt_count = 0
        adapt_epochs = cfg.epochs if cfg.adaptation_epochs is None else cfg.adaptation_epochs
        for epoch in range(cfg.epochs):
            perm = torch.randperm(total, device=st.rewards.device)
            for i in range(cfg.minibatches):
                idx = perm[i * mb:(i + 1) * mb]
                b = {k: v[idx] for k, v in data.items()}
                old_std = ac.log_std.exp().detach()
                dist = ac.distribution(b["actor_in"])
                logp = dist.log_prob(b["actions"]).sum(-1)
                with torch.no_grad():  # adaptive learning rate from the KL to the behaviour policy (approx.)
                    kl = (b["logp"] - logp).mean().abs().item()
                    if cfg.desired_kl > 0:
                        if kl > 2 * cfg.desired_kl:
                            self.lr = max(1e-5, self.lr / 1.5)
                        elif kl < cfg.desired_kl / 2:
                            self.lr = min(1e-2, self.lr * 1.5)
                        for g in self.opt.param_groups:
                            g["lr"] = self.lr
                ratio = (logp - b["logp"]).exp()
                surr = -torch.min(ratio * b["adv"], ratio.clamp(1 - cfg.clip, 1 + cfg.clip) * b["adv"]).mean()
                v = ac.value(b["obs"], b["priv"])
                v_clip = b["values"] + (v - b["values"]).clamp(-cfg.clip, cfg.clip)
                v_loss = torch.max((v - b["returns"]) ** 2, (v_clip - b["returns"]) ** 2).mean()
                ent = dist.entropy().sum(-1).mean()
                loss = surr + cfg.value_coef * v_loss - cfg.entropy_coef * ent
                self.opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_([p for g in self.opt.param_groups for p in g["params"]], cfg.max_grad_norm)
                self.opt.step()
                # the adaptation regression runs in its epochs only; after them not even its loss is evaluated
                # (a no-grad forward of the 1050-input module was ~15 % of the update on this machine's CPU)
                if epoch < adapt_epochs:
                    stats["adaptation_loss"] += self._adaptation_step(b["hist"], b["priv"])
                    adapt_count += 1
                del old_std
                for k, val in (("policy_loss", surr), ("value_loss", v_loss), ("entropy", ent)):
                    stats[k] += float(val.detach())
                stats["kl"] += kl
                count += 1
        out = {k: v / count for k, v in stats.items()}
        out["adaptation_loss"] = stats["adaptation_loss"] / max(adapt_count, 1)
        out["lr"] = self.lr
        out["action_std"] = float(ac.log_std.detach().exp().mean())
        return out

    def _adaptation_step(self, hist: torch.Tensor, priv: torch.Tensor) -> float:
        """One regression step of the adaptation module on ``hist [B, H*70]`` -> ``priv [B, 7]`` (only its loss when
        the module is frozen); returns the mean squared error before the step."""
        if not self.train_adaptation:
            with torch.no_grad():
                return float(((self.ac.adaptation(hist) - priv) ** 2).mean())
        loss = ((self.ac.adaptation(hist) - priv) ** 2).mean()
        self.adapt_opt.zero_grad()
        loss.backward()
        self.adapt_opt.step()
        return float(loss.detach())

    def state_dict(self) -> dict:
        return {"opt": self.opt.state_dict(), "adapt_opt": self.adapt_opt.state_dict(), "lr": self.lr}

    def load_state_dict(self, d: dict) -> None:
        self.opt.load_state_dict(d["opt"])
        self.adapt_opt.load_state_dict(d["adapt_opt"])
        self.lr = d["lr"]
