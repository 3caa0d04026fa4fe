#!/usr/bin/env bash
# Re-run every dsconv benchmark on this machine and rebuild benchmarks/RESULTS.md.
# Run it on a quiet machine: timings share the 2 cores with anything else running.
set -euo pipefail
cd "$(dirname "$0")/.."
DSCONV=${DSCONV:-.venv/bin/dsconv}
"$DSCONV" bench --machine --out-dir benchmarks
"$DSCONV" bench layers --backward --out-dir benchmarks
"$DSCONV" bench models --out-dir benchmarks
