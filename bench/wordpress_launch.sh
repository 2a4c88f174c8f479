#!/usr/bin/env bash
# The whole WordPress launch, stage by stage, on the test bed: runs the end-to-end test
# `wordpress_launched_on_the_fast_path_then_a_php_fatal_rolled_back_and_a_bad_migration_undone_by_rollback_with_db`
# (crates/cutover/tests/wordpress.rs: Debian's WordPress on sshd hosts with dnsmasq, a test CA,
# nginx + PHP-FPM per host and MariaDB) RUNS times (default 5). Each run appends the stage times
# of its `cutover --json -y launch --seed` (`duration_ms`) and the command's wall time to a file
# (the test's CUTOVER_BENCH_LAUNCH); the script prints every run, the median, min and max per
# stage, and the runs' own lines. The test's other steps (setup, staging, the bad migration and
# its rollback) are not timed here.
#
#   bench/wordpress_launch.sh [RUNS]
#
# Needs what the test needs (`.ci/setup` installs it); runs as root, as the tests do. The binary
# is the test suite's (debug profile), as CI runs it.
set -euo pipefail

RUNS=${1:-5}
cd "$(dirname "$0")/.."
TEST=wordpress_launched_on_the_fast_path_then_a_php_fatal_rolled_back_and_a_bad_migration_undone_by_rollback_with_db
out=$(mktemp /tmp/cutover-wp-launch.XXXXXX)
log=$(mktemp /tmp/cutover-wp-launch-log.XXXXXX)
trap 'rm -f "$out" "$log"' EXIT

cargo test -q -p cutover --test wordpress --no-run 2>"$log" || { cat "$log" >&2; exit 1; }
for i in $(seq 1 "$RUNS"); do
  if ! CUTOVER_REQUIRE_SERVICES=1 CUTOVER_BENCH_LAUNCH="$out" \
      cargo test -q -p cutover --test wordpress -- --exact "$TEST" >"$log" 2>&1; then
    echo "run $i failed:" >&2
    tail -n 60 "$log" >&2
    exit 1
  fi
  echo "run $i of $RUNS done" >&2
done

python3 - "$out" <<'PY'
import json, statistics, sys

runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
stages = [s["stage"] for s in runs[0]["stages"]]
def secs(ms):
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"
print(f"{len(runs)} runs of `cutover --json -y launch --seed` (WordPress, copy-staging)\n")
print("| run | " + " | ".join(stages) + " | sum of stages | wall |")
print("|---|" + "---:|" * (len(stages) + 2))
for i, r in enumerate(runs, 1):
    took = [s["duration_ms"] for s in r["stages"]]
    assert all(s["verdict"] == "passed" for s in r["stages"]), r
    print(f"| {i} | " + " | ".join(secs(t) for t in took) + f" | {secs(sum(took))} | {secs(r['wall_ms'])} |")
print()
print("| stage | median | min | max |")
print("|---|---:|---:|---:|")
for j, name in enumerate(stages + ["sum of stages", "wall"]):
    if j < len(stages):
        values = [r["stages"][j]["duration_ms"] for r in runs]
    elif name == "wall":
        values = [r["wall_ms"] for r in runs]
    else:
        values = [sum(s["duration_ms"] for s in r["stages"]) for r in runs]
    print(f"| {name} | {secs(statistics.median(values))} | {secs(min(values))} | {secs(max(values))} |")
print("\nThe runs as the test wrote them (ms):\n")
for r in runs:
    print("    " + json.dumps(r))
PY
