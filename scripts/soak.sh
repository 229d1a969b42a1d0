#!/usr/bin/env bash
# Soak: the release binary under a mixed load (three tenants, both vendors, queries and
# mutations, injected faults) for a while; RSS, open descriptors and latency every 10 s into a
# CSV, and a plot of them. Fails if RSS or descriptors grow without bound or an answer holds
# another tenant's data.
#   scripts/soak.sh [seconds] [out-dir]      (default 600 s, docs/)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
out="${2:-docs}"
cargo build --release --bin flowgate
cargo bench --bench soak -- "$seconds" "$out/soak.csv"
if python3 -c 'import matplotlib' 2>/dev/null; then
  python3 scripts/plot_soak.py "$out/soak.csv" "$out/soak.png"
else
  echo "soak: no matplotlib (pip install matplotlib) - the CSV is in $out/soak.csv"
fi
