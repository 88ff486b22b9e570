#!/bin/sh
# A training program that is not Python: tuner passes its flags, reads the lines it
# prints, stops it with SIGTERM when its trial is pruned. It "trains" a closed-form
# score (best near --learning_rate=0.3, --momentum=0.9) and keeps its epoch in
# $TUNER_TRIAL_DIR/epoch, so a run killed mid-way continues where it stopped.
learning_rate=0.1; momentum=0.0; epochs=5
for arg in "$@"; do
  case "$arg" in
    --learning_rate=*) learning_rate="${arg#*=}" ;;
    --momentum=*) momentum="${arg#*=}" ;;
    --epochs=*) epochs="${arg#*=}" ;;
  esac
done
state="${TUNER_TRIAL_DIR:-.}/epoch"
epoch=$(cat "$state" 2>/dev/null || echo 0)
while [ "$epoch" -lt "$epochs" ]; do
  epoch=$((epoch + 1))
  sleep 0.3
  awk -v lr="$learning_rate" -v m="$momentum" -v e="$epoch" 'BEGIN {
    q = (1 - (lr - 0.3) ^ 2 - (m - 0.9) ^ 2 / 2) * (1 - 0.6 ^ e)
    printf "epoch=%d score=%.5f loss=%.5f\n", e, q, 1 - q }'
  echo "$epoch" > "$state"
done
