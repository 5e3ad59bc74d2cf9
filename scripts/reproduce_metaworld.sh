#!/usr/bin/env bash
# Reproduce results/metaworld/ from a clean checkout: dataset -> train -> evaluate (CPU, ~1 h).
#
#   scripts/reproduce_metaworld.sh            # every step; re-running resumes / skips finished steps
#   STEPS="train eval" scripts/reproduce_metaworld.sh   # only some steps (collect | train | eval | summary)
#
# 1. collect: DAgger-from-scripted-expert zoo (config/metaworld_dagger.yaml) for the 4 seen + 4 unseen tasks,
#    4 runs x 50 checkpoints = 200 per task, into data/metaworld_zoo (resumable shard by shard; ~31 min).
# 2. train:   config/metaworld_small.yaml on the SEEN tasks only (data.tasks) -> runs/metaworld_small (~7 min).
# 3. eval:    config/metaworld_eval_full.yaml, 50 noisy prompts (sigma 0.1) per task, 5 random configurations:
#             baselines -> results/metaworld/eval_baselines, generator -> results/metaworld/eval_maa,
#             multi-task BC + prompt fine-tuning -> results/metaworld/eval_bc (~20 min).
# 4. summary: results/metaworld/summary.json, results.md, top5.png.
set -euo pipefail
cd "$(dirname "$0")/.."
source .venv/bin/activate
STEPS="${STEPS:-collect train eval summary}"
RUN=runs/metaworld_small
TASKS="reach window-close door-open drawer-close drawer-open door-close button-press coffee-button"
has() { [[ " $STEPS " == *" $1 "* ]]; }

if has collect; then
  python training/collect_metaworld.py --config config/metaworld_dagger.yaml --tasks $TASKS
fi
if has train; then
  if [[ -f $RUN/generator/model.safetensors ]]; then
    echo "[train] $RUN/generator exists, skipping (delete $RUN to retrain)"
  else
    python training/train.py --config config/metaworld_small.yaml --zoo data/metaworld_zoo --out $RUN \
      --threads 1 --resume
    python training/evaluate.py --ae-check $RUN --ae-rows 40 --episodes 3   # -> $RUN/ae_check.json
  fi
fi
if has eval; then
  [[ -f results/metaworld/eval_baselines/results.json ]] || \
    python training/evaluate.py --config config/metaworld_eval_full.yaml --out results/metaworld/eval_baselines
  [[ -f results/metaworld/eval_maa/results.json ]] || \
    python training/evaluate.py --config config/metaworld_eval_full.yaml --generator $RUN/generator \
      --baselines none --skip-source --out results/metaworld/eval_maa
  [[ -f results/metaworld/eval_bc/results.json ]] || \
    python training/evaluate.py --config config/metaworld_eval_full.yaml --baselines bc --skip-source \
      --out results/metaworld/eval_bc
fi
if has summary; then
  python training/evaluate.py --summarize results/metaworld/eval_baselines results/metaworld/eval_maa \
    results/metaworld/eval_bc \
    --out results/metaworld --command "scripts/reproduce_metaworld.sh"
  echo "results: results/metaworld/summary.json, results/metaworld/results.md, results/metaworld/top5.png"
fi
