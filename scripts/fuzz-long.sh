#!/usr/bin/env bash
# The long fuzz: generated, mutated and random requests against the router (and ids against the
# global-id decoder). Any panic, 5xx, answer that is not GraphQL JSON, or error code outside the
# closed list fails the run and prints the smallest failing case.
#   scripts/fuzz-long.sh [cases]     (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-100000}"
start=$(date +%s)
FLOWGATE_FUZZ_CASES="$cases" cargo test --release --test fuzz -- --test-threads 1 --nocapture
echo "fuzz-long: $cases requests and $((cases * 4)) ids, no failure, $(( $(date +%s) - start )) s"
