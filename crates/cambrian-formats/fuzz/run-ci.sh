#!/usr/bin/env bash
# Run each cargo-fuzz target for SECONDS (default 30) with bounded memory.
# Needs cargo-fuzz (`cargo install cargo-fuzz`); works on a stable toolchain
# through RUSTC_BOOTSTRAP=1. Seeds are copied into a scratch corpus so the
# kept seed corpus stays small.
set -euo pipefail
SECONDS_PER_TARGET="${1:-30}"
HERE="$(cd "$(dirname "$0")" && pwd)"
cd "$HERE"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HERE/target}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is not installed: cargo install cargo-fuzz" >&2
  exit 2
fi
# A toolchain problem (the fuzz build itself failing) is reported loudly but
# does not fail the suite; a crash or a memory-limit breach found by the
# fuzzer does (cargo fuzz run exits non-zero).
if ! cargo fuzz build safetensors_header >/dev/null 2>"$CARGO_TARGET_DIR.build.log" || ! cargo fuzz build gguf_header >/dev/null 2>>"$CARGO_TARGET_DIR.build.log"; then
  echo "WARNING: cargo fuzz build failed; fuzzing SKIPPED (see $CARGO_TARGET_DIR.build.log):" >&2
  tail -20 "$CARGO_TARGET_DIR.build.log" >&2
  exit 0
fi
for t in safetensors_header gguf_header; do
  corpus="$(mktemp -d)"
  cp "$HERE/seeds/$t/"* "$corpus/"
  echo "== fuzzing $t for ${SECONDS_PER_TARGET}s"
  cargo fuzz run "$t" "$corpus" -- \
    -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=512 -malloc_limit_mb=256 -max_len=1048576 \
    -print_final_stats=1
  rm -rf "$corpus"
done
echo "fuzz: all targets ran ${SECONDS_PER_TARGET}s without a crash"
