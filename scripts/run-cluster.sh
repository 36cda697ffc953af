#!/usr/bin/env bash
# Starts a local 3-node cnv cluster of real processes on loopback.
# Usage: scripts/run-cluster.sh [DATA_DIR [cluster up flags...]]
# e.g.   scripts/run-cluster.sh ./data --restart-dead
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-./data}
shift || true
exec ./bin/cnv-node cluster up --nodes 3 --data-dir "$data" "$@"
