#!/usr/bin/env bash
# Checks what docs/ops ships for Prometheus: the rules parse (promtool check rules) and their unit tests
# pass (promtool test rules). Needs promtool (Debian package: prometheus). The examples suite runs the same
# checks in OpsRulesTest, plus one over every query of the Grafana dashboard.
set -euo pipefail
cd "$(dirname "$0")/../docs/ops/prometheus"
if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool not found: apt-get install prometheus" >&2
  exit 2
fi
promtool check rules reuseport-rules.yml
promtool test rules reuseport-rules.test.yml
