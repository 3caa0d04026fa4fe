#!/usr/bin/env bash
# Re-run every dsconv benchmark on this machine and rebuild benchmarks/RESULTS.md.
# Run it on a quiet machine: timings share the 2 cores with anything else running.
# POLICY=default keeps OpenMP's spinning workers (see the header of RESULTS.md); the committed run is passive.
set -euo pipefail
cd "$(dirname "$0")/.."
DSCONV=${DSCONV:-.venv/bin/dsconv}
POLICY=${POLICY:-passive}
"$DSCONV" bench --machine --out-dir benchmarks
"$DSCONV" bench layers --backward --omp-wait-policy "$POLICY" --out-dir benchmarks
"$DSCONV" bench models --omp-wait-policy "$POLICY" --out-dir benchmarks
