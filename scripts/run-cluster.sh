#!/usr/bin/env bash
# Starts a local 3-node cnv cluster of real processes on loopback.
# Usage: scripts/run-cluster.sh [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-./data}
if ! ./bin/cnv-node cluster --help >/dev/null 2>&1; then
	echo "The replicated cluster is not built yet (issue: the replicated cluster)."
	echo "What works today is offline: ./bin/cnv-node --help"
	exit 1
fi
exec ./bin/cnv-node cluster up --nodes 3 --data-dir "$data"
