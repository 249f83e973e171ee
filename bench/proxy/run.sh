#!/usr/bin/env bash
# pgbench -S (select only) against one PostgreSQL 15 primary, four ways in one run, alternating:
# direct, through `pgha proxy` (session mode, its primary port), through PgBouncer (session pooling)
# and through HAProxy (mode tcp), both from Debian's packages and configured here. At 16 clients
# (saturating the 2 cores) it compares throughput; at 1 client the per-query latency (p50 of every
# transaction, from pgbench's per-transaction log). Prints the figures and the same-run ratios as
# markdown for docs/benchmarks.md. Never asserts anything.
#
# usage: bench/proxy/run.sh [--rounds N] [--seconds S] [--clients "16 1"] [--variants "direct pgha pgbouncer haproxy"]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds=3; seconds=10; clients="16 1"; variants="direct pgha pgbouncer haproxy"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --variants) variants=$2; shift 2 ;;
    *) echo "usage: bench/proxy/run.sh [--rounds N] [--seconds S] [--clients \"16 1\"] [--variants \"direct pgha pgbouncer haproxy\"]" >&2; exit 2 ;;
  esac
done
base=${PGHA_BENCH_PORT:-47200}

for v in $variants; do
  case "$v" in direct|pgha|pgbouncer|haproxy) ;; *) echo "bench/proxy: unknown variant '$v' (direct pgha pgbouncer haproxy)" >&2; exit 2 ;; esac
done

for tool in haproxy pgbouncer; do
  command -v "$tool" >/dev/null || { echo "bench/proxy: installing $tool from Debian's packages" >&2; apt-get install -y -qq "$tool" >/dev/null; }
done
"$root/pgha" --help >/dev/null   # installs prerequisites and builds outside the timing
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

work=$(mktemp -d /tmp/pgha-bench-proxy-XXXXXX); chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  "$root/pgha" demo destroy --dir "$work/demo" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# One primary, recorded in its witness store by its agent: the routing table pgha proxy follows.
"$root/pgha" demo --reset --nodes 1 --dir "$work/demo" --base-port "$base" >"$work/demo.out" 2>&1 &
pids+=($!)
until grep -q "^pgha demo is running" "$work/demo.out"; do
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$work/demo.out" >&2; exit 1; }
  sleep 0.2
done
pg_port=$((base + 1))
password=$(sed -n 's/.*"superuser_password": "\([^"]*\)".*/\1/p' "$work/demo/demo.json" | head -1)
export PGPASSWORD="$password"

# pgha proxy alone, as on an application host: the node's pgha.yaml with its own proxy ports.
pgha_port=$((base + 11))
sed "s/^proxy: .*/proxy: { listen: 127.0.0.1, primary_port: $pgha_port, replica_port: $((base + 12)) }/" "$work/demo/n1.yaml" >"$work/proxy.yaml"
"$root/pgha" proxy --config "$work/proxy.yaml" --log-level warning >"$work/pgha-proxy.log" 2>&1 &
pids+=($!)

haproxy_port=$((base + 13))
cat >"$work/haproxy.cfg" <<EOF
global
  maxconn 4096
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
listen postgres
  bind 127.0.0.1:$haproxy_port
  server n1 127.0.0.1:$pg_port
EOF
haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
pids+=($!)

pgbouncer_port=$((base + 14))
mkdir -p "$work/pgbouncer"
cat >"$work/pgbouncer/pgbouncer.ini" <<EOF
[databases]
postgres = host=127.0.0.1 port=$pg_port dbname=postgres user=postgres password=$password
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $pgbouncer_port
unix_socket_dir =
auth_type = trust
auth_file = $work/pgbouncer/userlist.txt
pool_mode = session
max_client_conn = 200
default_pool_size = 32
logfile = $work/pgbouncer/pgbouncer.log
pidfile = $work/pgbouncer/pgbouncer.pid
EOF
echo '"postgres" ""' >"$work/pgbouncer/userlist.txt"
chown -R postgres "$work/pgbouncer"
runuser -u postgres -- pgbouncer "$work/pgbouncer/pgbouncer.ini" >"$work/pgbouncer/stdout.log" 2>&1 &
pids+=($!)

pid_of() { case "$1" in pgha) echo "${pids[1]}" ;; haproxy) pgrep -f "haproxy -db -f $work/haproxy.cfg" | head -1 ;; pgbouncer) cat "$work/pgbouncer/pgbouncer.pid" ;; esac; }
port_of() { case "$1" in direct) echo "$pg_port" ;; pgha) echo "$pgha_port" ;; pgbouncer) echo "$pgbouncer_port" ;; haproxy) echo "$haproxy_port" ;; esac; }
for v in $variants; do
  for _ in $(seq 1 100); do "$bin/psql" -h 127.0.0.1 -p "$(port_of "$v")" -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1 && break; sleep 0.2; done
  "$bin/psql" -h 127.0.0.1 -p "$(port_of "$v")" -U postgres -d postgres -Atqc 'select 1' >/dev/null || { echo "bench/proxy: $v on port $(port_of "$v") does not answer" >&2; exit 1; }
done
"$bin/pgbench" -i -q -s 10 -h 127.0.0.1 -p "$pg_port" -U postgres postgres >/dev/null 2>&1

# One pgbench run: prints "tps p50_us" (p50 over every transaction of the run).
run() {
  local variant=$1 c=$2 dir="$work/log-$1-$2"
  rm -rf "$dir"; mkdir -p "$dir"
  local out
  out=$(cd "$dir" && "$bin/pgbench" -n -S -c "$c" -j "$(( c < 2 ? 1 : 2 ))" -T "$seconds" -l \
          -h 127.0.0.1 -p "$(port_of "$variant")" -U postgres postgres 2>&1) || { echo "$out" >&2; return 1; }
  local tps p50
  tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | head -1)
  p50=$(cat "$dir"/pgbench_log.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$tps $p50"
}

# Where the proxy's CPU goes at 1 client: its CPU time, context switches and syscalls per transaction
# (from /proc and strace, over one pgbench run each; strace slows the traced run, so its tps is not used).
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s}'; }
profile() {
  local v=$1 pid; pid=$(pid_of "$v"); [ -n "$pid" ] || return 0
  local t0 c0 out tx
  t0=$(ticks "$pid"); c0=$(switches "$pid")
  out=$("$bin/pgbench" -n -S -c 1 -j 1 -T "$seconds" -h 127.0.0.1 -p "$(port_of "$v")" -U postgres postgres 2>&1)
  tx=$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
  local cpu_us=$(( ($(ticks "$pid") - t0) * 1000000 / $(getconf CLK_TCK) / tx )) ctx
  ctx=$(echo "($(switches "$pid") - $c0) / $tx" | bc -l)
  local sys="-"
  if command -v strace >/dev/null; then
    local trace="$work/strace-$v"
    timeout -s INT 5 strace -c -S calls -f -o "$trace" -p "$pid" >/dev/null 2>&1 &
    local tracer=$!
    sleep 0.5
    out=$("$bin/pgbench" -n -S -c 1 -j 1 -T 3 -h 127.0.0.1 -p "$(port_of "$v")" -U postgres postgres 2>&1)
    local ttx; ttx=$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
    wait "$tracer" 2>/dev/null || true
    sys=$(awk -v tx="$ttx" '$NF == "total" {printf "%.1f", $4/tx} ' "$trace" 2>/dev/null)
    local top; top=$(awk 'NR > 2 && $NF != "total" && $1 ~ /^[0-9.]+$/ {print $NF}' "$trace" | head -4 | paste -sd, -)
    sys="$sys ($top)"
  fi
  printf '| %s | %d | %.2f | %s |\n' "$v" "$cpu_us" "$ctx" "$sys"
}

declare -A tps p50
for r in $(seq 1 "$rounds"); do
  for c in $clients; do
    # Rotate the order each round so no variant always runs first (or right after another).
    set -- $variants
    for _ in $(seq 2 "$r"); do set -- "${@:2}" "$1"; done
    for v in "$@"; do
      read -r t l < <(run "$v" "$c")
      tps[$v,$c]+="$t "; p50[$v,$c]+="$l "
      echo "round $r, $c client(s), $v: $t tps, p50 $l µs" >&2
    done
  done
done

median() { printf '%s\n' $@ | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# Per-round ratios (same round = same machine state), then their median.
ratio_median() {  # $1 list a, $2 list b → median of a_i/b_i
  paste <(printf '%s\n' $1) <(printf '%s\n' $2) | awk '{printf "%.3f\n", $1/$2}' | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}
diff_median() {
  paste <(printf '%s\n' $1) <(printf '%s\n' $2) | awk '{printf "%d\n", $1-$2}' | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}

echo
echo "pgbench -S, scale 10, ${seconds} s per run, $rounds rounds, PostgreSQL $("$bin/postgres" --version | awk '{print $3}'), $(haproxy -v | head -1 | awk '{print "HAProxy", $3}'), $(pgbouncer --version | head -1)"
echo
for c in $clients; do
  echo "**$c client(s)**"
  echo
  echo "| path | tps per round | median tps | × direct | × HAProxy | p50 latency per round (µs) | median p50 (µs) | added p50 vs direct (µs) |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
  for v in $variants; do
    t="${tps[$v,$c]}"; l="${p50[$v,$c]}"
    xd=$(ratio_median "$t" "${tps[direct,$c]:-$t}")
    xh=$(ratio_median "$t" "${tps[haproxy,$c]:-$t}")
    added=$(diff_median "$l" "${p50[direct,$c]:-$l}")
    echo "| $v | $(echo $t) | $(median $t) | $xd | $xh | $(echo $l) | $(median $l) | $added |"
  done
  echo
done

echo "**Where the proxy's CPU goes, 1 client** (one ${seconds} s pgbench -S run each; syscalls over a separate 3 s run under strace)"
echo
echo "| path | proxy CPU µs per transaction | context switches per transaction | syscalls per transaction (most frequent) |"
echo "| --- | --- | --- | --- |"
for v in $variants; do [ "$v" = direct ] || profile "$v"; done
