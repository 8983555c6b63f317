#!/usr/bin/env bash
# Run every fuzz target for SECONDS each (default 30) on the kept seed corpus,
# with libFuzzer's memory limits. New inputs go to a scratch folder, so the
# kept corpus is not modified. Stable toolchain: RUSTC_BOOTSTRAP=1 lets
# cargo-fuzz use the nightly-only sanitizer flags.
#   crates/cambrian-scan/fuzz/run-ci.sh 60
set -euo pipefail
SECS="${1:-30}"
HERE="$(cd "$(dirname "$0")" && pwd)"
cd "$HERE"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HERE/target}"
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
status=0
for t in pickle zip scan safetensors gguf; do
  mkdir -p "$SCRATCH/$t"
  echo "== fuzz target $t for ${SECS}s"
  if ! cargo fuzz run "$t" "$SCRATCH/$t" "corpus/$t" -- \
      -max_total_time="$SECS" -rss_limit_mb=512 -malloc_limit_mb=256 -timeout=10 -max_len=65536 -print_final_stats=1 2>&1 | tail -n 25; then
    echo "!! fuzz target $t failed (artifacts in $HERE/artifacts/$t)"
    status=1
  fi
done
exit $status
