#!/usr/bin/env bash
# Issue 16: MetaWorld at the paper's scale (resumable: finished (task, seed) shards are skipped, unfinished runs resume).
#   1. collect-seen: the 10 seen tasks x 1,000 DAgger checkpoints (config/metaworld_paper_dagger.yaml). TASKS="a b"
#      restricts it to some tasks, so that it runs in steps of about 2 hours (docs in results/metaworld/paper_scale);
#   2. collect-prompts: prompt sources for the 9 unseen and the 5 validation tasks (100 checkpoints each).
# Usage: scripts/reproduce_metaworld_paper.sh [all|collect-seen|collect-prompts]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
[ -f .venv/bin/activate ] && source .venv/bin/activate
STEP="${1:-all}"
WORKERS="${WORKERS:-2}"
UNSEEN="window-close door-close drawer-close faucet-open button-press-wall door-lock handle-press-side coffee-button reach-wall"
# validation tasks: outside the paper's 19, for every setting that is tuned
VALIDATION="button-press-topdown handle-pull plate-slide-side coffee-push lever-pull"
run() { [ "$STEP" = all ] || [ "$STEP" = "$1" ]; }

if run collect-seen; then
  # shellcheck disable=SC2086
  python training/collect_metaworld.py --config config/metaworld_paper_dagger.yaml --workers "$WORKERS" \
    ${TASKS:+--tasks $TASKS}
fi
if run collect-prompts; then
  # shellcheck disable=SC2086
  python training/collect_metaworld.py --config config/metaworld_paper_dagger.yaml --workers "$WORKERS" \
    --tasks $UNSEEN $VALIDATION --seeds 0 1
fi
