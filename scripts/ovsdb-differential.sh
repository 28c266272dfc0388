#!/bin/sh
# Long differential runs of the OVSDB monitor cache against a real ovsdb-server (the test in
# test/integration/ovsdb-differential.test.ts), with fresh seeds. Needs a build (npx tsc -p .).
#   scripts/ovsdb-differential.sh [RUNS] [TRANSACTIONS]     defaults: 5 runs of 1000
set -eu
cd "$(dirname "$0")/.."
runs=${1:-5}
txns=${2:-1000}
i=0
while [ "$i" -lt "$runs" ]; do
  seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
  echo "run $((i + 1))/$runs: seed $seed, $txns transactions"
  DIFF_SEED=$seed DIFF_TXNS=$txns npx mocha dist/test/integration/ovsdb-differential.test.js || {
    echo "FAILED with DIFF_SEED=$seed DIFF_TXNS=$txns" >&2
    exit 1
  }
  i=$((i + 1))
done
