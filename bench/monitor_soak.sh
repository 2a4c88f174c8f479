#!/usr/bin/env bash
# CPU time and memory of `cutover monitor` watching 3 checks at a 1 s interval for MINUTES
# (default 10), side by side in the same run with the obvious peer: a shell loop running the same
# 3 checks with curl every second. Both hit the same real nginx on a loopback address.
#
#   cargo build --release -p cutover && bench/monitor_soak.sh [MINUTES]
#
# Prints a table (wall, user+sys CPU, max RSS) and cutover's RSS every 30 s, to show memory stays
# flat. Needs nginx (Debian nginx-light), curl and GNU time; runs as any user that can bind a
# loopback port. Everything is bounded: the monitor's window and the loop's count.
set -euo pipefail

MINUTES=${1:-10}
BIN=${CUTOVER_BIN:-$(cd "$(dirname "$0")/.." && pwd)/target/release/cutover}
[ -x "$BIN" ] || { echo "build first: cargo build --release -p cutover" >&2; exit 2; }
for tool in nginx curl /usr/bin/time; do
  command -v "$tool" >/dev/null || [ -x "$tool" ] || [ -x "/usr/sbin/$tool" ] || { echo "missing $tool" >&2; exit 2; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

root=$(mktemp -d /tmp/cutover-soak.XXXXXX)
chmod 755 "$root"   # nginx workers (user nobody) read the release
nginx_pid=""
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  rm -rf "$root"
}
trap cleanup EXIT

ip=127.$((RANDOM % 200 + 20)).$((RANDOM % 250)).$((RANDOM % 250 + 1))
port=$(python3 -c "import socket; s=socket.socket(); s.bind(('$ip', 0)); print(s.getsockname()[1])")
mkdir -p "$root/app/about" "$root/nginx/tmp"
echo "shop v1" > "$root/app/index.html"
echo "about us" > "$root/app/about/index.html"
echo "ok" > "$root/app/health"
cat > "$root/nginx/nginx.conf" <<EOF
daemon off; master_process on; worker_processes 1; pid $root/nginx/nginx.pid;
error_log $root/nginx/error.log;
events { worker_connections 256; }
http {
  access_log off; client_body_temp_path $root/nginx/tmp;
  server { listen $ip:$port; root $root/deploy/current; location / { try_files \$uri \$uri/index.html =500; } }
}
EOF
cat > "$root/cutover.toml" <<EOF
version = 1
[app]
name = "soak"
source = "app"
[env.production]
gated = false
url = "http://$ip:$port"
hosts = ["local"]
path = "$root/deploy"
[[check]]
name = "home"
url = "/"
body_contains = "shop"
[[check]]
name = "about"
url = "/about/"
[[check]]
name = "health"
url = "/health"
expect_status = "200"
[monitor]
thresholds = { http_req_failed = "rate<0.01", http_req_duration = "p(95)<800" }
EOF
cd "$root"
"$NGINX" -p "$root/nginx" -c "$root/nginx/nginx.conf" &
nginx_pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://$ip:$port/" && break; sleep 0.1; done
"$BIN" -q deploy >/dev/null

seconds=$((MINUTES * 60))
# The peer: the same three checks, once a second, for the same time.
/usr/bin/time -f "%e %U %S %M" -o "$root/curl.time" bash -c "
  for i in \$(seq $seconds); do
    curl -fsS -o /dev/null --max-time 5 http://$ip:$port/ | true
    curl -fsS -o /dev/null --max-time 5 http://$ip:$port/about/ | true
    curl -fsS -o /dev/null --max-time 5 http://$ip:$port/health | true
    sleep 1
  done" &
curl_pid=$!
/usr/bin/time -f "%e %U %S %M" -o "$root/cutover.time" \
  "$BIN" -q monitor --window "${MINUTES}m" --interval 1s > /dev/null 2> "$root/monitor.err" &
time_pid=$!
sleep 1
mon_pid=$(pgrep -P "$time_pid" | head -n1 || true)
echo "cutover RSS while monitoring (KiB), every 30 s:"
samples=""
while kill -0 "$time_pid" 2>/dev/null; do
  if [ -n "$mon_pid" ] && [ -r "/proc/$mon_pid/status" ]; then
    rss=$(awk '/VmRSS/ { print $2 }' "/proc/$mon_pid/status" 2>/dev/null || true)
    [ -n "$rss" ] && samples="$samples $rss"
  fi
  for _ in $(seq 30); do kill -0 "$time_pid" 2>/dev/null || break; sleep 1; done
done
echo " $samples"
wait "$time_pid" || { echo "monitor failed:"; cat "$root/monitor.err"; exit 1; }
wait "$curl_pid" || true
rounds=$(sqlite3 "$root/.cutover/state.db" "select count(*) from monitor_rounds" 2>/dev/null || echo "?")
printf '\n%-28s %8s %10s %10s\n' "" "wall s" "CPU s" "max RSS"
read -r wall user sys rss < "$root/cutover.time"
printf '%-28s %8.0f %10.2f %7d KiB\n' "cutover monitor ($rounds rounds)" "$wall" "$(echo "$user + $sys" | bc)" "$rss"
read -r wall user sys rss < "$root/curl.time"
printf '%-28s %8.0f %10.2f %7d KiB\n' "bash + curl loop" "$wall" "$(echo "$user + $sys" | bc)" "$rss"
