#!/usr/bin/env bash
# The secret scanner alone, without its peers: recall and precision on the planted repository of
# bench/gen_secret_repo.py (seed 1), findings and speed on vendor code as Debian ships it (the
# `wordpress` package's tree, Laravel's Illuminate tree from `php-laravel-framework`).
#
#   bench/secret_scan_vendor.sh                 # RUNS=10 timed runs per tree
#   SCAN=/tmp/old-scan bench/secret_scan_vendor.sh   # another build of examples/scan, to compare
#
# WordPress is partly symlinks into /etc/wordpress and /usr/share/javascript: it is copied with
# `cp -rL` into a temporary directory (removed on exit) and committed to a git repository there, as
# a site's repository would hold it, so every file the site serves is scanned (a plain directory's
# scan skips `vendor/`, where WordPress keeps React and lodash). Illuminate is scanned as a plain
# directory. Both are scanned without history (`examples/scan --no-history`). hyperfine is installed
# with apt-get when missing. Prints markdown on stdout; progress goes to stderr.
set -euo pipefail

RUNS=${RUNS:-10}
LIMIT=${LIMIT:-1800}   # seconds, for any one step
SEED=${SEED:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WORDPRESS=${WORDPRESS:-/usr/share/wordpress}
ILLUMINATE=${ILLUMINATE:-/usr/share/php/Illuminate}

log() { echo "==> $*" >&2; }

if [[ -z ${SCAN:-} ]]; then
    timeout "$LIMIT" cargo build --release -q -p cutover-scan --example scan --manifest-path "$ROOT/Cargo.toml" >&2
    SCAN=$TARGET/release/examples/scan
fi
for tree in "$WORDPRESS" "$ILLUMINATE"; do
    [[ -d $tree ]] || { echo "$tree is missing: apt-get install wordpress php-laravel-framework" >&2; exit 1; }
done
if ! command -v hyperfine > /dev/null; then
    log "installing hyperfine"
    DEBIAN_FRONTEND=noninteractive timeout "$LIMIT" apt-get install -y -q hyperfine > /dev/null
fi

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cutover-scan-vendor.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
log "generating the planted repository in $TMP"
timeout "$LIMIT" python3 "$ROOT/bench/gen_secret_repo.py" --out "$TMP" --seed "$SEED" >&2
cp -rL "$WORDPRESS" "$TMP/wordpress"
git -C "$TMP/wordpress" init -q
git -C "$TMP/wordpress" add -A
git -C "$TMP/wordpress" -c user.name=bench -c user.email=bench@localhost -c commit.gpgsign=false commit -q -m wordpress
cp -r "$ILLUMINATE" "$TMP/illuminate"

run() {   # NAME ARGS...: the report to $TMP/NAME.json; exit 1 means "found something"
    local name=$1 code=0
    shift
    (cd "$TMP" && timeout "$LIMIT" "$SCAN" "$@") > "$TMP/$name.json" || code=$?
    (( code <= 1 )) || { echo "scan $* failed with exit $code" >&2; exit 1; }
}
(cd "$TMP/repo" && timeout "$LIMIT" "$SCAN" .) > "$TMP/planted-full.json" || (( $? == 1 ))
(cd "$TMP/repo" && timeout "$LIMIT" "$SCAN" --no-history .) > "$TMP/planted-tree.json" || (( $? == 1 ))
run wordpress --no-history wordpress
run illuminate --no-history illuminate

log "timing: $RUNS runs per tree"
(cd "$TMP" && timeout "$LIMIT" hyperfine --style basic -i -N --warmup 1 --runs "$RUNS" --export-json "$TMP/time.json" \
    -n "WordPress" "$SCAN --no-history wordpress" \
    -n "Illuminate" "$SCAN --no-history illuminate" \
    -n "planted repository, working tree + history" "$SCAN repo") > /dev/null

echo "Scanner: $SCAN (repository at $(git -C "$ROOT" rev-parse --short HEAD)); load average $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end ($(nproc) CPUs)"
echo
python3 - "$TMP" <<'EOF'
import json, os, statistics, sys
d = sys.argv[1]
planted = json.load(open(os.path.join(d, "planted.json")))
def findings(name):
    return json.load(open(os.path.join(d, name + ".json")))
print("### Planted repository (bench/gen_secret_repo.py, seed 1)\n")
print("| scan | planted, working tree | planted, history only | false positives | precision |")
print("|---|---:|---:|---:|---:|")
for name, label in [("planted-full", "working tree + history"), ("planted-tree", "working tree only")]:
    report = findings(name)
    keys = {(f["file"], f["line"], f["commit"]) for f in report["findings"]}
    tree_keys = {(p["file"], p["head_line"], None) for p in planted if p["head"]}
    hist_keys = {(p["file"], p["line"], p["commit"]) for p in planted}
    tree = sum(1 for p in planted if p["head"] and (p["file"], p["head_line"], None) in keys)
    hist = sum(1 for p in planted if not p["head"] and (p["file"], p["line"], p["commit"]) in keys)
    heads = sum(1 for p in planted if p["head"])
    false = len(keys - tree_keys - hist_keys)
    true = len(keys) - false
    hist_cell = f"{hist}/{len(planted) - heads}" if name == "planted-full" else "not scanned"
    precision = f"{true / len(keys):.0%}" if keys else "n/a"
    print(f"| {label} | {tree}/{heads} | {hist_cell} | {false} | {precision} |")
print("\n### Vendor trees (every finding is false: nothing in them is a secret)\n")
print("| tree | files | MiB of text | findings |")
print("|---|---:|---:|---:|")
for name, label in [("wordpress", "WordPress (Debian `wordpress`, `cp -rL`, in git)"), ("illuminate", "Illuminate (Debian `php-laravel-framework`)")]:
    r = findings(name)
    print(f"| {label} | {r['stats']['files']} | {r['stats']['bytes'] / 2**20:.1f} | {len(r['findings'])} |")
for name in ["wordpress", "illuminate"]:
    for f in findings(name)["findings"]:
        print(f"- {name}: `{f['file']}:{f['line']}` {f['rule']} `{f['redacted']}`")
print("\n### Time (examples/scan, hyperfine)\n")
print("| what | runs | wall, median | wall, min | wall, max | CPU (user + sys), mean |")
print("|---|---:|---:|---:|---:|---:|")
for r in json.load(open(os.path.join(d, "time.json")))["results"]:
    t = r["times"]
    cpu = r["user"] + r["system"]  # hyperfine 1.15 gives their means only
    print(f"| {r['command']} | {len(t)} | {statistics.median(t):.3f} s | {min(t):.3f} s | {max(t):.3f} s | {cpu:.3f} s |")
EOF
