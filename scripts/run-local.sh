#!/usr/bin/env bash
# Local cluster without Docker (filled in as the node, mesh and balancer land).
set -euo pipefail
exec build/bin/meshkv-node "$@"
