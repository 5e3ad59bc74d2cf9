#!/usr/bin/env bash
# Issue 16: MetaWorld at the paper's scale (results/metaworld/paper_scale). Every step resumes or skips what is done.
#   1. collect-seen:    the 10 seen tasks x 1,000 DAgger checkpoints (config/metaworld_paper_dagger.yaml). TASKS="a b"
#                       restricts it to some tasks, so that it runs in steps of about 2 hours;
#   2. collect-prompts: prompt sources for the 9 unseen and the 5 validation tasks: 4 DAgger runs of the early stage
#                       only (iterations 0-24, where prompts are drawn from), 100 checkpoints per task;
#   3. train:           config/metaworld_paper.yaml, generator seeds $SEEDS (default 0 1 2) -> runs/metaworld_paper_s<seed>.
#                       Seeds 1 and 2 train their own embedding and diffusion on seed 0's autoencoder (compute: the
#                       autoencoder is 3/4 of the training time on this machine);
#   4. evaluate:        config/metaworld_eval_paper.yaml (50 early-stage prompts per task, 5 configurations): baselines,
#                       each generator, multi-task BC, prompt-blind random -> $RES/eval_*;
#   5. validate:        the 4-task study's generator (bundled before this one; runs/metaworld_cfg_s0 of
#                       scripts/reproduce_metaworld.sh) vs seed 0 on the 5 validation tasks
#                       (config/metaworld_eval_paper_val.yaml);
#   6. memorization:    training/memorization_metaworld.py on seed 0's policies -> $RES/memorization;
#   7. summary:         $RES/summary.json, results.md, top5.png.
#   8. robosuite:       Panda DAgger zoo (config/robosuite_dagger{,_nut}.yaml: Lift, Door, NutAssemblySingle x 200 ckpts,
#                       end-effector `osc` layout), the generator
#                       (config/robosuite_paper.yaml: own autoencoder and embedding, diffusion fine-tuned from the bundled
#                       MetaWorld generator; seeds $SEEDS -> runs/robosuite_paper_s<seed>), evaluation on Sawyer
#                       (config/robosuite_eval.yaml, 50 prompts per task) -> results/robosuite/summary.json.
# Usage: scripts/reproduce_metaworld_paper.sh [all|collect-seen|collect-prompts|train|evaluate|validate|memorization|
#                                              summary|robosuite]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
[ -f .venv/bin/activate ] && source .venv/bin/activate
STEP="${1:-all}"
WORKERS="${WORKERS:-2}"
UNSEEN="window-close door-close drawer-close faucet-open button-press-wall door-lock handle-press-side coffee-button reach-wall"
# validation tasks: outside the paper's 19, for every setting that is tuned
VALIDATION="button-press-topdown sweep-into plate-slide-side coffee-push lever-pull"
SEEDS="${SEEDS:-0 1 2}"
RES=results/metaworld/paper_scale
EVAL=config/metaworld_eval_paper.yaml
run() { [ "$STEP" = all ] || [ "$STEP" = "$1" ]; }
gen_dir() { echo "runs/metaworld_paper_s$1"; }

if run collect-seen; then
  # shellcheck disable=SC2086
  python training/collect_metaworld.py --config config/metaworld_paper_dagger.yaml --workers "$WORKERS" \
    ${TASKS:+--tasks $TASKS}
fi
if run collect-prompts; then
  # shellcheck disable=SC2086
  python training/collect_metaworld.py --config config/metaworld_paper_dagger.yaml --workers "$WORKERS" \
    --tasks $UNSEEN $VALIDATION --seeds 0 1 2 3 --set dagger.iterations=25
fi
if run train; then
  for seed in $SEEDS; do
    dir=$(gen_dir "$seed")
    if [[ -f $dir/generator/model.safetensors ]]; then echo "[train] $dir exists, skipping"; continue; fi
    if [[ $seed == 0 ]]; then
      python training/train.py --config config/metaworld_paper.yaml --out "$dir" --threads 1 --resume
      python training/check_autoencoder.py "$dir" --zoo data/metaworld_paper_zoo --ae-rows 40 --episodes 3
    else
      base=$(gen_dir 0)
      [[ -f $base/generator/model.safetensors ]] || { echo "train seed 0 first (its autoencoder is shared)" >&2; exit 1; }
      mkdir -p "$dir/stages"
      [[ -d $dir/stages/autoencoder ]] || cp -r "$base/stages/autoencoder" "$dir/stages/autoencoder"
      for stage in embedding generator; do
        python training/train.py --config config/metaworld_paper.yaml --out "$dir" --threads 1 --resume \
          --stage "$stage" --set train.seed="$seed"
      done
    fi
  done
fi
if run evaluate; then  # every run resumes task by task (prompt_seed_per_task): rerunning is cheap
  python training/evaluate.py --config $EVAL --set save_policies=false --out $RES/eval_baselines
  for seed in $SEEDS; do
    python training/evaluate.py --config $EVAL --generator "$(gen_dir "$seed")/generator" --baselines none \
      --skip-source --out "$RES/eval_maa_s$seed"
  done
  for b in random bc; do
    python training/evaluate.py --config $EVAL --baselines $b --skip-source --set save_policies=false \
      --out "$RES/eval_$b"
  done
fi
if run validate; then
  for name in 4task_bundled paper_s0; do
    gen=runs/metaworld_cfg_s0/generator; [[ $name == 4task_bundled ]] || gen=$(gen_dir 0)/generator
    [[ -f $RES/validation/$name/results.json || -f $gen/model.safetensors ]] || {
      echo "validate: no generator at $gen (4task_bundled: STEPS=train SEEDS=0 scripts/reproduce_metaworld.sh)" >&2
      exit 1; }
    [[ -f $RES/validation/$name/results.json ]] || python training/evaluate.py --config config/metaworld_eval_paper_val.yaml \
      --generator "$gen" --baselines none --skip-source --out "$RES/validation/$name"
  done
fi
if run memorization; then
  [[ -f $RES/memorization/memorization.json ]] || \
    python training/memorization_metaworld.py --eval $RES/eval_maa_s0 --out $RES/memorization --per-task 10
fi
if run summary; then
  dirs=($RES/eval_baselines)
  for seed in $SEEDS; do dirs+=("$RES/eval_maa_s$seed"); done
  for b in bc random; do [[ -f $RES/eval_$b/results.json ]] && dirs+=("$RES/eval_$b"); done
  memo=(); [[ -f $RES/memorization/memorization.json ]] && memo=(--memorization $RES/memorization)
  python training/summarize_paper_scale.py "${dirs[@]}" --out $RES "${memo[@]}" \
    --command "scripts/reproduce_metaworld_paper.sh (SEEDS=\"$SEEDS\")"
fi
if run robosuite; then
  # Two processes, one per core: the baselines, which need no generator (the prompts' own checkpoints, retrieval,
  # noisy retrieval, BC, prompt-blind random), and the generator seeds $SEEDS, each trained then evaluated. Every
  # evaluation resumes task by task (config/robosuite_eval.yaml: prompt_seed_per_task), so a rerun is cheap.
  RS=results/robosuite
  RS_EVAL=config/robosuite_eval.yaml
  python training/collect_metaworld.py --config config/robosuite_dagger.yaml --workers "$WORKERS"
  python training/collect_metaworld.py --config config/robosuite_dagger_nut.yaml --workers "$WORKERS"
  python training/evaluate_robosuite.py --config $RS_EVAL --baselines retrieval,retrieval_noise,bc,random \
    --out $RS/eval_baselines &
  baselines=$!
  dirs=($RS/eval_baselines)
  for seed in $SEEDS; do
    gen=runs/robosuite_paper_s$seed
    [[ -f $gen/generator/model.safetensors ]] || python training/train.py --config config/robosuite_paper.yaml \
      --out "$gen" --threads 1 --resume --set train.seed="$seed"
    python training/evaluate_robosuite.py --config $RS_EVAL --generator "$gen/generator" --baselines none \
      --skip-source --out "$RS/eval_maa_s$seed"
    dirs+=("$RS/eval_maa_s$seed")
  done
  wait "$baselines"
  python training/summarize_eval.py "${dirs[@]}" --zoo data/robosuite_osc_zoo --out $RS \
    --title "Robosuite: Panda zoo, evaluated on Sawyer" --command "scripts/reproduce_metaworld_paper.sh robosuite (SEEDS=\"$SEEDS\")"
fi

