#!/usr/bin/env bash
# Benchmark of `cutover db rewrite` on a mariadb-dump-shaped WordPress dump, against `cat` (the
# floor) and `sed` (the unsafe peer: it breaks PHP-serialized lengths).
#
#   bench/db_rewrite.sh [SIZE_MB]        # default 400; RUNS=3 runs of each command
#   LOAD_INTO=mariadb bench/db_rewrite.sh # also times the same rewrite with --load-into mariadb
#
# Generates the dump (bench/gen_wp_dump.py) in a temporary directory, removed on exit; measures
# each command RUNS times in this run (wall time of the whole pipeline; peak RSS of the measured
# process alone, by GNU `time -v`) and prints a markdown table: median wall time, throughput in MB/s
# (10^6 bytes) of the dump, and the largest peak RSS. Every step has a time limit.
set -euo pipefail

SIZE_MB=${1:-400}
RUNS=${RUNS:-3}
LIMIT=${LIMIT:-600}   # seconds, for any one step
OLD=https://staging.example.test
NEW=https://www.example.com

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CUTOVER_BIN:-$ROOT/target/release/cutover}
if [[ ! -x /usr/bin/time ]]; then
    echo "GNU time is needed: apt-get install -y time" >&2
    exit 1
fi
if [[ -z ${CUTOVER_BIN:-} ]]; then
    timeout "$LIMIT" cargo build --release -p cutover --manifest-path "$ROOT/Cargo.toml" >&2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cutover-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
DUMP=$TMP/dump.sql

echo "generating a ${SIZE_MB} MB dump in $TMP …" >&2
started=$(date +%s.%N)
timeout "$LIMIT" python3 "$ROOT/bench/gen_wp_dump.py" --size-mb "$SIZE_MB" --out "$DUMP" --url "$OLD"
echo "generated in $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s" >&2
BYTES=$(stat -c %s "$DUMP")
cat "$DUMP" > /dev/null   # warm the page cache

# measure NAME CMD…: runs `cat dump | CMD > /dev/null` RUNS times; appends "wall_s rss_kb" lines.
measure() {
    local name=$1
    shift
    : > "$TMP/$name.runs"
    for _ in $(seq "$RUNS"); do
        local t0 t1
        t0=$(date +%s%N)
        cat "$DUMP" | timeout "$LIMIT" /usr/bin/time -v -o "$TMP/time" "$@" > /dev/null 2> "$TMP/$name.stderr"
        t1=$(date +%s%N)
        rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TMP/time")
        echo "$(( (t1 - t0) / 1000000 )) $rss" >> "$TMP/$name.runs"
    done
}

measure floor cat
measure sed sed "s#$OLD#$NEW#g"
measure cutover "$BIN" db rewrite --replace "$OLD" "$NEW"
if [[ -n ${LOAD_INTO:-} ]]; then
    measure portable "$BIN" db rewrite --replace "$OLD" "$NEW" --load-into "$LOAD_INTO"
fi

# Correctness at a glance: what cutover changed, and lines still holding OLD afterwards.
summary=$(tail -n 1 "$TMP/cutover.stderr")
left=$(cat "$DUMP" | "$BIN" -q db rewrite --replace "$OLD" "$NEW" 2> /dev/null | grep -c -F -e "$OLD" -e "${OLD//\//\\/}" || true)

row() {
    local name=$1 label=$2
    local ms rss median_ms
    ms=$(cut -d' ' -f1 "$TMP/$name.runs" | sort -n | tr '\n' ' ')
    median_ms=$(cut -d' ' -f1 "$TMP/$name.runs" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    rss=$(cut -d' ' -f2 "$TMP/$name.runs" | sort -n | tail -n 1)
    LABEL=$label awk -v ms="$median_ms" -v all="$ms" -v rss="$rss" -v bytes="$BYTES" 'BEGIN {
        printf "| %s | %.2f | %.0f | %.1f | %s|\n", ENVIRON["LABEL"], ms / 1000, bytes / 1e6 / (ms / 1000), rss / 1024, all
    }'
}

echo
echo "Dump: $(awk -v b="$BYTES" 'BEGIN {printf "%.1f MB", b / 1e6}') ($BYTES bytes), $RUNS runs each, $(nproc) cores; $(uname -sr)"
echo
echo "| command | median wall (s) | throughput (MB/s) | peak RSS (MiB) | runs (ms) |"
echo "| --- | ---: | ---: | ---: | --- |"
row floor 'cat dump \| cat'
row sed "cat dump \\| sed 's#OLD#NEW#g'"
row cutover 'cat dump \| cutover db rewrite --replace OLD NEW'
if [[ -n ${LOAD_INTO:-} ]]; then
    row portable "cat dump \\| cutover db rewrite --replace OLD NEW --load-into $LOAD_INTO"
fi
echo
echo "cutover: $summary"
echo "lines still holding OLD (raw or JSON-escaped) after cutover: $left"
