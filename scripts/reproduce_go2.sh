#!/usr/bin/env bash
# Reproduce results/go2/ and the bundled Go2 models end to end (CPU, resumable: every step resumes or skips work
# that is already on disk; re-run the script after an interruption).
#   1. PPO: the walk-these-ways actor (seed 0 trains the adaptation module that is then frozen) + 4 more seeds,
#      seeds 1-2 with their own adaptation module, seeds 3-4 against the frozen pretrained module; seeds 3-4 are
#      continued with a checkpoint every iteration (config/go2_dense.yaml) to grow the zoo.
#   2. collect: the Go2 zoo (config/go2_collect.yaml): every actor checkpoint + segmented prompts.
#   3. generator: config/go2_small.yaml on the zoo (runs/go2_small).
#   4. evaluate: generated actors vs the nearest-checkpoint baseline -> results/go2/summary.json (+ .md, .png).
#   5. bundle: models/go2/{generator,adaptation.safetensors}, prompts/go2_walk.npz.
# Usage: scripts/reproduce_go2.sh [all|ppo|collect|generator|evaluate|bundle]   (default: all)
# Wall-clock on the 2-core development machine (1 thread): PPO ~1.5 h in total, collect ~3 min,
# generator ~3 min, evaluate ~5 min, bundle < 1 min.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
[ -f .venv/bin/activate ] && source .venv/bin/activate
STEP="${1:-all}"
ADAPT=results/go2/adaptation_module.safetensors
ZOO=runs/go2_zoo_dense
GEN_RUN=runs/go2_small
run() { [ "$STEP" = all ] || [ "$STEP" = "$1" ]; }

if run ppo; then
  # seed 0 was stopped by hand at iteration 475 (see results/go2/train_summary.json); seeds 1-4 at 175/175/150/150
  python training/train_go2.py --config config/go2_train.yaml --iterations 475
  cp runs/go2_main/adaptation/adaptation_00475.safetensors "$ADAPT"
  cp runs/go2_main/actors/actor_00475.safetensors results/go2/actor_seed0_it475.safetensors
  python training/train_go2.py --config config/go2_train.yaml --seed 1 --run-dir runs/go2_seed1 --iterations 175
  python training/train_go2.py --config config/go2_train.yaml --seed 2 --run-dir runs/go2_seed2 --iterations 175
  for s in 3 4; do
    python training/train_go2.py --config config/go2_train.yaml --seed $s --run-dir runs/go2_seed${s}_frozen \
      --iterations 150 --adaptation-init "$ADAPT"
    # dense continuation: resume from a copy of the iteration-150 checkpoint, an actor every iteration
    mkdir -p runs/go2_seed${s}_dense/checkpoints
    [ -n "$(ls runs/go2_seed${s}_dense/checkpoints)" ] || \
      cp runs/go2_seed${s}_frozen/checkpoints/ckpt_00150.pt runs/go2_seed${s}_dense/checkpoints/
    python training/train_go2.py --config config/go2_dense.yaml --seed $s --run-dir runs/go2_seed${s}_dense
  done
fi
if run collect; then
  python training/collect_go2.py --config config/go2_collect.yaml   # skips shards already written
fi
if run generator; then
  RESUME=""; [ -d "$GEN_RUN/stages" ] && RESUME="--resume"
  python training/train.py --config config/go2_small.yaml --zoo "$ZOO" --out "$GEN_RUN" --threads 1 $RESUME
fi
if run evaluate; then
  CMD="scripts/reproduce_go2.sh evaluate"
  python training/evaluate_go2_generator.py --generator "$GEN_RUN/generator" --zoo "$ZOO" --adaptation "$ADAPT" \
    --out results/go2 --work runs/go2_generator_eval --num-envs 48 --ae-check 4 --command "$CMD" \
    --prompts go2_main:-1,go2_main:-3,go2_main:-6,go2_seed1:-1,go2_seed1:-3,go2_seed2:-1,go2_seed2:-3,go2_seed3_dense:-1,go2_seed3_dense:-60,go2_seed4_dense:-1,go2_seed4_dense:-60
fi
if run bundle; then
  mkdir -p models/go2 prompts
  rm -rf models/go2/generator && cp -r "$GEN_RUN/generator" models/go2/generator
  cp "$ADAPT" models/go2/adaptation.safetensors
  python training/record_go2_prompt.py --actor results/go2/actor_seed0_it475.safetensors --adaptation "$ADAPT" \
    --out prompts/go2_walk.npz --vx 0.5 --seconds 10 --seed 0
fi
