#!/usr/bin/env bash
# The startwell benchmark: national-size synthetic project, each stage timed,
# peak memory, the no-op run, and a DuckDB reference of the core indicators over
# the same Delta tables. Not part of `cargo test`. Usage:
#
#   bench/run.sh                 # 600,000 children per birth year, 1 year of deliveries
#   CHILDREN=100000 bench/run.sh # smaller
#   REPEAT=5 bench/run.sh        # forced scorecard and DuckDB 5 times each, alternately
#
# Needs the Rust toolchain and Python 3.11 (a venv with duckdb and deltalake is
# created under ~/.cache/startwell-bench-venv on first use).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/startwell-target}"
cargo build --release --quiet

venv="${BENCH_VENV:-$HOME/.cache/startwell-bench-venv}"
packages=(duckdb==2.0.0 deltalake==1.6.6)
python="$venv/bin/python"
if [ ! -x "$python" ]; then
  if python3 -m venv "$venv" 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${packages[@]}"
  else
    # No venv module (Debian's python3 without python3-venv): a user install.
    rm -rf "$venv"
    python3 -m pip install --quiet --user --disable-pip-version-check "${packages[@]}"
    python=python3
  fi
fi

exec "$python" -u bench/bench.py \
  --binary "$CARGO_TARGET_DIR/release/startwell" \
  --project . \
  --children "${CHILDREN:-600000}" \
  --years "${YEARS:-1}" \
  --repeat "${REPEAT:-3}" \
  --work "${BENCH_DIR:-$(mktemp -d -t startwell-bench-XXXXXX)}"
