#!/usr/bin/env bash
# Reproduce results/metaworld/ from a clean checkout: dataset -> train -> evaluate (CPU, ~1.5 h).
#
#   scripts/reproduce_metaworld.sh            # every step; re-running resumes / skips finished steps
#   STEPS="train eval" scripts/reproduce_metaworld.sh   # only some steps (collect | train | eval | summary)
#   SEEDS="0" scripts/reproduce_metaworld.sh  # one generator instead of three (faster, noisier)
#   SEEN=10 scripts/reproduce_metaworld.sh   # the paper's 10 seen tasks (+6 tasks to collect, ~15 min more),
#                                            # metaworld_small preset, one seed -> results/metaworld/seen10
#
# 1. collect: DAgger-from-scripted-expert zoo (config/metaworld_dagger.yaml) for the 4 seen + 4 unseen tasks,
#    4 runs x 50 checkpoints = 200 per task, into data/metaworld_zoo (resumable shard by shard; ~31 min).
# 2. train:   config/metaworld_cfg.yaml on the SEEN tasks only (data.tasks), one generator per seed in $SEEDS
#             (default 0 1 2) -> runs/metaworld_cfg_s<seed> (~7 min each). Seed 0 is the bundled model.
# 3. eval:    config/metaworld_eval_full.yaml, 50 noisy prompts (sigma 0.1) per task, 5 random configurations:
#             baselines -> results/metaworld/eval_baselines, each generator -> results/metaworld/eval_maa_s<seed>,
#             multi-task BC + prompt fine-tuning -> results/metaworld/eval_bc, prompt-blind random training
#             checkpoints -> results/metaworld/eval_random (~40 min).
# 4. summary: results/metaworld/summary.json (generator figures = mean over the seeds), results.md, top5.png.
set -euo pipefail
cd "$(dirname "$0")/.."
source .venv/bin/activate
STEPS="${STEPS:-collect train eval summary}"
SEEN="${SEEN:-4}"
SEEDS="${SEEDS:-0 1 2}"
TASKS="reach window-close door-open drawer-close drawer-open door-close button-press coffee-button"
if [[ $SEEN == 4 ]]; then
  PRESET=config/metaworld_cfg.yaml; RUN=runs/metaworld_cfg; RES=results/metaworld; EVAL=config/metaworld_eval_full.yaml
  TRAIN_SET=()
elif [[ $SEEN == 10 ]]; then
  SEEN10="reach door-open drawer-open button-press window-open dial-turn faucet-close door-unlock handle-press plate-slide"
  TASKS="$TASKS window-open dial-turn faucet-close door-unlock handle-press plate-slide"
  PRESET=config/metaworld_small.yaml; RUN=runs/metaworld_seen10; RES=results/metaworld/seen10
  EVAL=config/metaworld_eval_seen10.yaml; TRAIN_SET=(--set "data.tasks=[${SEEN10// /, }]"); SEEDS=0
else
  echo "SEEN must be 4 or 10, got $SEEN" >&2; exit 1
fi
run_dir() { if [[ $SEEN == 4 ]]; then echo "${RUN}_s$1"; else echo "$RUN"; fi; }
eval_dir() { if [[ $SEEN == 4 ]]; then echo "$RES/eval_maa_s$1"; else echo "$RES/eval_maa"; fi; }
has() { [[ " $STEPS " == *" $1 "* ]]; }

if has collect; then
  python training/collect_metaworld.py --config config/metaworld_dagger.yaml --tasks $TASKS
fi
if has train; then
  for seed in $SEEDS; do
    run=$(run_dir "$seed")
    if [[ -f $run/generator/model.safetensors ]]; then
      echo "[train] $run/generator exists, skipping (delete $run to retrain)"
      continue
    fi
    python training/train.py --config $PRESET --zoo data/metaworld_zoo --out "$run" --threads 1 --resume \
      --set train.seed="$seed" "${TRAIN_SET[@]}"
    if [[ $seed == 0 ]]; then
      python training/check_autoencoder.py "$run" --ae-rows 40 --episodes 3   # -> $run/ae_check.json
    fi
  done
fi
if has eval; then
  [[ -f $RES/eval_baselines/results.json ]] || \
    python training/evaluate.py --config $EVAL --out $RES/eval_baselines
  for seed in $SEEDS; do
    out=$(eval_dir "$seed")
    [[ -f $out/results.json ]] || \
      python training/evaluate.py --config $EVAL --generator "$(run_dir "$seed")/generator" \
        --baselines none --skip-source --out "$out"
  done
  [[ -f $RES/eval_bc/results.json ]] || \
    python training/evaluate.py --config $EVAL --baselines bc --skip-source --out $RES/eval_bc
  [[ -f $RES/eval_random/results.json ]] || \
    python training/evaluate.py --config $EVAL --baselines random --skip-source --out $RES/eval_random
fi
if has summary; then
  gens=()
  for seed in $SEEDS; do gens+=("$(eval_dir "$seed")"); done
  others=($RES/eval_bc)
  [[ -d $RES/eval_random ]] && others+=($RES/eval_random)
  python training/summarize_eval.py $RES/eval_baselines "${gens[@]}" "${others[@]}" \
    --out $RES --command "SEEN=$SEEN SEEDS=\"$SEEDS\" scripts/reproduce_metaworld.sh"
  echo "results: $RES/summary.json, $RES/results.md, $RES/top5.png"
fi
