#!/usr/bin/env bash
# Installs the real components the test suite or the benchmarks drive, when missing.
#   scripts/install-system-deps.sh          tests: headless Chromium, the Prometheus server
#                                           and promtool, docker-compose, LibreOffice Calc,
#                                           npm (for axe-core)
#   scripts/install-system-deps.sh bench    benchmarks: wrk (PostgreSQL is expected running)
# Needs root and apt; elsewhere it says what to install.
set -euo pipefail

need=()
if [ "${1:-test}" = "bench" ]; then
  command -v wrk >/dev/null 2>&1 || need+=(wrk)
else
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  [ -x /usr/bin/prometheus ] || command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
  # Validates the compose files without a Docker engine (tests/deploy/); v1.29 from Debian.
  # --no-install-recommends below keeps it from pulling in docker.io.
  command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
  # Opens the CSV export headless to prove a cell is text, not a formula (tests/security/).
  command -v soffice >/dev/null 2>&1 || need+=(libreoffice-calc-nogui)
  # npm installs axe-core for the accessibility tests (tests/e2e/axe/, `npm ci`).
  command -v npm >/dev/null 2>&1 || need+=(npm)
fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "missing system packages: ${need[*]} (install them with your package manager)" >&2
  # Outside CI the tests that need them skip with this reason; in CI they fail.
fi
