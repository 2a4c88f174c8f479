#!/usr/bin/env bash
# Peak memory (max RSS) of a local deploy whose before_switch hook prints SIZE bytes (default
# 500 MB) of 100-byte lines, for each cutover binary given (old and new side by side).
#   bench/hook_rss.sh OLD_BINARY NEW_BINARY [SIZE]
# Needs GNU time (/usr/bin/time). Output: one line per binary: binary, exit status, max RSS.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BINARY... [SIZE]" >&2; exit 2; }
size=500000000
bins=()
for a in "$@"; do
  if [[ $a =~ ^[0-9]+$ ]]; then size=$a; else bins+=("$a"); fi
done
work=$(mktemp -d /tmp/cutover-hook-rss.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/app"
echo v1 > "$work/app/index.html"
cat > "$work/cutover.toml" <<TOML
version = 1
[app]
name = "rss"
source = "app"
[hooks]
before_switch = ["yes 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef012345678 | head -c $size"]
[env.bench]
hosts = ["local"]
path = "$work/srv"
TOML
for bin in "${bins[@]}"; do
  rm -rf "$work/srv" "$work/.cutover"
  set +e
  /usr/bin/time -f "%M" -o "$work/rss" "$bin" -q -c "$work/cutover.toml" --env bench deploy >/dev/null 2>"$work/stderr"
  status=$?
  set -e
  [ $status -eq 0 ] || { echo "$bin failed:" >&2; tail -5 "$work/stderr" >&2; }
  printf '%s\texit %s\tmax RSS %s KiB\n' "$bin" "$status" "$(tail -1 "$work/rss")"
done
