#!/usr/bin/env bash
# Reproduce results/metaworld/ from a clean checkout: dataset -> train -> evaluate (CPU, ~1 h).
#
#   scripts/reproduce_metaworld.sh            # every step; re-running resumes / skips finished steps
#   STEPS="train eval" scripts/reproduce_metaworld.sh   # only some steps (collect | train | eval | summary)
#   SEEN=10 scripts/reproduce_metaworld.sh   # the paper's 10 seen tasks (+6 tasks to collect, ~15 min more)
#                                            # -> runs/metaworld_seen10, results/metaworld/seen10
#
# 1. collect: DAgger-from-scripted-expert zoo (config/metaworld_dagger.yaml) for the 4 seen + 4 unseen tasks,
#    4 runs x 50 checkpoints = 200 per task, into data/metaworld_zoo (resumable shard by shard; ~31 min).
# 2. train:   config/metaworld_small.yaml on the SEEN tasks only (data.tasks) -> runs/metaworld_small (~7 min).
# 3. eval:    config/metaworld_eval_full.yaml, 50 noisy prompts (sigma 0.1) per task, 5 random configurations:
#             baselines -> results/metaworld/eval_baselines, generator -> results/metaworld/eval_maa,
#             multi-task BC + prompt fine-tuning -> results/metaworld/eval_bc, prompt-blind random training
#             checkpoints -> results/metaworld/eval_random (~27 min).
# 4. summary: results/metaworld/summary.json, results.md, top5.png.
set -euo pipefail
cd "$(dirname "$0")/.."
source .venv/bin/activate
STEPS="${STEPS:-collect train eval summary}"
SEEN="${SEEN:-4}"
TASKS="reach window-close door-open drawer-close drawer-open door-close button-press coffee-button"
if [[ $SEEN == 4 ]]; then
  RUN=runs/metaworld_small; RES=results/metaworld; EVAL=config/metaworld_eval_full.yaml; TRAIN_SET=()
elif [[ $SEEN == 10 ]]; then
  SEEN10="reach door-open drawer-open button-press window-open dial-turn faucet-close door-unlock handle-press plate-slide"
  TASKS="$TASKS window-open dial-turn faucet-close door-unlock handle-press plate-slide"
  RUN=runs/metaworld_seen10; RES=results/metaworld/seen10; EVAL=config/metaworld_eval_seen10.yaml
  TRAIN_SET=(--set "data.tasks=[${SEEN10// /, }]")
else
  echo "SEEN must be 4 or 10, got $SEEN" >&2; exit 1
fi
has() { [[ " $STEPS " == *" $1 "* ]]; }

if has collect; then
  python training/collect_metaworld.py --config config/metaworld_dagger.yaml --tasks $TASKS
fi
if has train; then
  if [[ -f $RUN/generator/model.safetensors ]]; then
    echo "[train] $RUN/generator exists, skipping (delete $RUN to retrain)"
  else
    python training/train.py --config config/metaworld_small.yaml --zoo data/metaworld_zoo --out $RUN \
      --threads 1 --resume "${TRAIN_SET[@]}"
    python training/evaluate.py --ae-check $RUN --ae-rows 40 --episodes 3   # -> $RUN/ae_check.json
  fi
fi
if has eval; then
  [[ -f $RES/eval_baselines/results.json ]] || \
    python training/evaluate.py --config $EVAL --out $RES/eval_baselines
  [[ -f $RES/eval_maa/results.json ]] || \
    python training/evaluate.py --config $EVAL --generator $RUN/generator \
      --baselines none --skip-source --out $RES/eval_maa
  [[ -f $RES/eval_bc/results.json ]] || \
    python training/evaluate.py --config $EVAL --baselines bc --skip-source \
      --out $RES/eval_bc
  [[ -f $RES/eval_random/results.json ]] || \
    python training/evaluate.py --config $EVAL --baselines random --skip-source --out $RES/eval_random
fi
if has summary; then
  python training/evaluate.py --summarize $RES/eval_baselines $RES/eval_maa $RES/eval_bc $RES/eval_random \
    --out $RES --command "SEEN=$SEEN scripts/reproduce_metaworld.sh"
  echo "results: $RES/summary.json, $RES/results.md, $RES/top5.png"
fi
