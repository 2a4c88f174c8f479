#!/usr/bin/env bash
# Benchmark of `cutover secrets scan` against detect-secrets (PyPI) and secretlint (npm, with
# its recommended preset) on the same generated repository (bench/gen_secret_repo.py: a Laravel
# + Vue shop, ~3000 files, 300 commits, secrets planted in the working tree and in history).
#
#   bench/secret_scan.sh            # RUNS=5 timed runs of each fast tool, SLOW_RUNS=3 of the slow ones
#
# Installs the peers (idempotent) under $TOOLS (default /tmp/cutover-bench-tools): detect-secrets in
# a venv, secretlint with npm, and hyperfine with apt-get when missing. Times each tool with
# hyperfine after a warm-up run, runs each once more for its findings, and prints markdown
# (bench/secret_scan_report.py) on stdout; progress goes to stderr. Every step has a time limit.
set -euo pipefail

RUNS=${RUNS:-5}
SLOW_RUNS=${SLOW_RUNS:-3}
LIMIT=${LIMIT:-1800}   # seconds, for any one step
SEED=${SEED:-1}
DETECT_SECRETS_VERSION=1.5.0
SECRETLINT_VERSION=12.0.0

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=${TOOLS:-/tmp/cutover-bench-tools}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${CUTOVER_BIN:-$TARGET/release/cutover}
# The library without the CLI, for the working-tree-only mode (`--no-history`).
SCAN=$TARGET/release/examples/scan

log() { echo "==> $*" >&2; }

if [[ -z ${CUTOVER_BIN:-} ]]; then
    log "building cutover (release)"
    timeout "$LIMIT" cargo build --release -q -p cutover --manifest-path "$ROOT/Cargo.toml" >&2
fi
timeout "$LIMIT" cargo build --release -q -p cutover-scan --example scan --manifest-path "$ROOT/Cargo.toml" >&2

if ! command -v hyperfine > /dev/null; then
    log "installing hyperfine"
    DEBIAN_FRONTEND=noninteractive timeout "$LIMIT" apt-get install -y -q hyperfine > /dev/null
fi
if ! "$TOOLS/venv/bin/detect-secrets" --version 2> /dev/null | grep -qx "$DETECT_SECRETS_VERSION"; then
    log "installing detect-secrets $DETECT_SECRETS_VERSION in $TOOLS/venv"
    python3 -m venv "$TOOLS/venv"
    timeout "$LIMIT" "$TOOLS/venv/bin/pip" install -q "detect-secrets==$DETECT_SECRETS_VERSION" >&2
fi
SECRETLINT=$TOOLS/secretlint/node_modules/.bin/secretlint
if ! "$SECRETLINT" --version 2> /dev/null | grep -qx "$SECRETLINT_VERSION"; then
    log "installing secretlint $SECRETLINT_VERSION in $TOOLS/secretlint"
    timeout "$LIMIT" npm install --silent --no-audit --no-fund --prefix "$TOOLS/secretlint" \
        "secretlint@$SECRETLINT_VERSION" "@secretlint/secretlint-rule-preset-recommend@$SECRETLINT_VERSION" >&2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cutover-secret-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
log "generating the repository in $TMP"
timeout "$LIMIT" python3 "$ROOT/bench/gen_secret_repo.py" --out "$TMP" --seed "$SEED" >&2
REPO=$TMP/repo
echo '{"rules":[{"id":"@secretlint/secretlint-rule-preset-recommend"}]}' > "$TMP/secretlintrc.json"
git -C "$REPO" status --short > /dev/null   # refresh the index, warm the page cache
cat "$REPO/.git/objects/pack/"* > /dev/null

# The commands, as hyperfine runs them (from the repository, output discarded).
CUTOVER_FULL="$BIN --json secrets scan"
CUTOVER_TREE="$SCAN --no-history ."
DETECT_SECRETS="$TOOLS/venv/bin/detect-secrets scan"
SECRETLINT_CMD="$SECRETLINT --secretlintrc $TMP/secretlintrc.json --format json '**/*'"

log "findings: one run of each"
cd "$REPO"
findings() {   # NAME CMD: stdout to $TMP/NAME.json; exit 1 means "found something"
    local name=$1 code=0
    timeout "$LIMIT" bash -c "$2" > "$TMP/$name.json" 2> "$TMP/$name.stderr" || code=$?
    if (( code > 1 )); then
        echo "$name failed with exit $code:" >&2
        cat "$TMP/$name.stderr" >&2
        exit 1
    fi
}
findings cutover-full "$CUTOVER_FULL"
findings cutover-tree "$CUTOVER_TREE"
findings ds "$DETECT_SECRETS"
findings sl "$SECRETLINT_CMD"

log "timing: $RUNS runs of cutover, $SLOW_RUNS of detect-secrets and secretlint"
timeout "$LIMIT" hyperfine --style basic -i -N --warmup 1 --runs "$RUNS" --export-json "$TMP/time-1-cutover.json" \
    -n "cutover (working tree + history)" "$CUTOVER_FULL" \
    -n "cutover (working tree only)" "$CUTOVER_TREE" > /dev/null
timeout "$LIMIT" hyperfine --style basic -i -N --warmup 1 --runs "$SLOW_RUNS" --export-json "$TMP/time-2-detect-secrets.json" \
    -n "detect-secrets" "$DETECT_SECRETS" > /dev/null
timeout "$LIMIT" hyperfine --style basic -i --warmup 1 --runs "$SLOW_RUNS" --export-json "$TMP/time-3-secretlint.json" \
    -n "secretlint" "$SECRETLINT_CMD" > /dev/null

echo "Repository: $(python3 -c "import json; s=json.load(open('$TMP/cutover-full.json'))['stats']; print(f\"{s['files']} files at HEAD, {s['commits']} commits, {s['blobs']} distinct blobs in history, {s['bytes']/2**20:.1f} MiB of text scanned by cutover with history\")")"
echo "Versions: cutover $(git -C "$ROOT" rev-parse --short HEAD), detect-secrets $DETECT_SECRETS_VERSION, secretlint $SECRETLINT_VERSION (preset-recommend), $(node --version | sed 's/^/Node /'), $(python3 --version), hyperfine $(hyperfine --version | cut -d' ' -f2)"
echo
python3 "$ROOT/bench/secret_scan_report.py" "$TMP"
