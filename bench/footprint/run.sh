#!/usr/bin/env bash
# What an idle agent costs, pgha against Patroni 3.0.2 (Debian's package), in one run on this machine.
# First a 3-node `pgha demo` (witness PostgreSQL, three PostgreSQL 15 nodes, one `pgha run` per node),
# then 3 Patroni members with one etcd, same PostgreSQL, all on loopback. Each cluster is left idle
# --settle seconds after it is healthy (default 30: .NET's tiered compilation goes on for a while
# after start), then measured over --seconds (default 60): per agent process its CPU (% of one core,
# utime+stime from /proc/<pid>/stat), VmRSS, threads, and its connections to the control-plane store
# (the witness PostgreSQL / etcd, counted per process with `ss -tnp`), plus the store's own CPU and
# memory; then the CPU per thread name (from /proc/<pid>/task/*/stat) summed
# over the agents: where the idle CPU goes. Prints markdown for docs/benchmarks.md; never asserts.
#
# usage: bench/footprint/run.sh [--seconds N] [--settle N] [--only pgha|patroni]
#        [--patroni-timing "TTL LOOP_WAIT RETRY_TIMEOUT"]   (default Patroni's own: "30 10 10")
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seconds=60; settle=30; only=""; patroni_timing="30 10 10"
usage() { echo "usage: bench/footprint/run.sh [--seconds N] [--settle N] [--only pgha|patroni] [--patroni-timing \"TTL LOOP_WAIT RETRY_TIMEOUT\"]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --settle) settle=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --patroni-timing) patroni_timing=$2; shift 2 ;;
    *) usage ;;
  esac
done
case "$only" in ""|pgha|patroni) ;; *) usage ;; esac
read -r p_ttl p_loop p_retry <<<"$patroni_timing"
base=${PGHA_BENCH_PORT:-47600}

command -v patroni >/dev/null || { echo "bench/footprint: installing patroni from Debian's packages" >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq patroni >/dev/null; }
"$root/pgha" --help >/dev/null   # installs prerequisites (PostgreSQL, etcd) and builds outside the measurement
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
hz=$(getconf CLK_TCK)

work=$(mktemp -d /tmp/pgha-bench-footprint-XXXXXX); chmod 755 "$work"
demo_pid=""; etcd_pid=""; patroni_runners=()
stop_patroni() {
  local p
  for p in $(pgrep -u postgres -f "bin/patroni $work/" || true); do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${patroni_runners[@]}"; do
    for _ in $(seq 1 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$p" 2>/dev/null || true
  done
  for p in $(pgrep -u postgres -f "bin/patroni $work/" || true); do kill -KILL "$p" 2>/dev/null || true; done
  for d in "$work"/patroni/n*/data; do
    [ -f "$d/postmaster.pid" ] && runuser -u postgres -- "$bin/pg_ctl" stop -D "$d" -m immediate -s >/dev/null 2>&1 || true
  done
  patroni_runners=()
  if [ -n "$etcd_pid" ]; then kill -TERM "$etcd_pid" 2>/dev/null || true; wait "$etcd_pid" 2>/dev/null || true; etcd_pid=""; fi
}
stop_pgha() {
  if [ -n "$demo_pid" ]; then
    kill -TERM "$demo_pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$demo_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true; demo_pid=""
  fi
  "$root/pgha" demo destroy --dir "$work/demo" >/dev/null 2>&1 || true
}
cleanup() { stop_pgha; stop_patroni; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
pause() { sleep "$1" & wait $!; }   # a foreground sleep would hold off the trap until it ends

# Polls "$@" until it succeeds or $1 seconds pass; says what it waited for.
wait_for() {
  local limit=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "bench/footprint: $what not reached within ${limit} s" >&2; return 1; }
    sleep 0.5
  done
}

# utime+stime in ticks; the fields after the ")" that closes comm (thread names hold spaces).
ticks() { sed 's/.*) //' "$1" 2>/dev/null | awk '{print $12 + $13} END {if (NR == 0) print 0}'; }
rss_mb() { awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
pss_mb() { awk '/^Pss:/ {s += $2} END {printf "%.0f", s / 1024}' "$@" 2>/dev/null; }
threads() { awk '/^Threads/ {print $2}' "/proc/$1/status"; }
# Established TCP connections from process $1 to 127.0.0.1:$2.
conns() { ss -tnpH state established "( dport = :$2 )" | grep -c "pid=$1," || true; }
# Every thread of the given processes: "pid/tid ticks name".
thread_ticks() {
  local pid t
  for pid in "$@"; do
    for t in /proc/"$pid"/task/*; do
      printf '%s %s %s\n' "$pid/${t##*/}" "$(ticks "$t/stat")" "$(tr ' ' '_' <"$t/comm" 2>/dev/null)"
    done
  done
}
# Descendants of a postmaster, with it: every process of that PostgreSQL.
pg_tree() { echo "$1"; pgrep -P "$1" || true; }

# Measures over $seconds: the agents ($1: "name:pid ..."), the store's processes ($2: pids of its
# process tree root, re-read at the end for PostgreSQL's short-lived backends), the store's port ($3).
# Appends per-agent rows "label cpu% rss threads conns" to $work/rows-$4 and thread totals to $work/threads-$4.
measure() {
  local agents=$1 store_root=$2 store_port=$3 tag=$4 a pid
  declare -A t0
  for a in $agents; do pid=${a#*:}; t0[$pid]=$(ticks "/proc/$pid/stat"); done
  local store_pids; store_pids=$(pg_tree "$store_root")
  local s0=0 p; for p in $store_pids; do s0=$(( s0 + $(ticks "/proc/$p/stat") )); done
  local nodes; nodes=$(for a in $agents; do case "$a" in n[0-9]*) echo "${a#*:}" ;; esac; done)
  thread_ticks $nodes | LC_ALL=C sort >"$work/threads0-$tag"
  local started; started=$(date +%s.%N)
  pause "$seconds"
  local elapsed; elapsed=$(echo "$(date +%s.%N) - $started" | bc)
  thread_ticks $nodes | LC_ALL=C sort >"$work/threads1-$tag"
  : >"$work/rows-$tag"
  for a in $agents; do
    pid=${a#*:}
    local d=$(( $(ticks "/proc/$pid/stat") - ${t0[$pid]} ))
    printf '%s %.2f %s %s %s\n' "${a%%:*}" "$(echo "$d * 100 / $hz / $elapsed" | bc -l)" "$(rss_mb "$pid")" "$(threads "$pid")" "$(conns "$pid" "$store_port")" >>"$work/rows-$tag"
  done
  # The store: CPU over the same window of the processes that lived through it (a backend that
  # came and went is missed), memory as PSS summed over every process (shared buffers counted once).
  local s1=0; for p in $store_pids; do [ -e "/proc/$p/stat" ] && s1=$(( s1 + $(ticks "/proc/$p/stat") )); done
  local now_pids; now_pids=$(pg_tree "$store_root")
  printf 'store %.2f %s %s %s\n' "$(echo "($s1 - $s0) * 100 / $hz / $elapsed" | bc -l)" \
    "$(pss_mb $(for p in $now_pids; do echo "/proc/$p/smaps_rollup"; done))" "$(echo $now_pids | wc -w)" \
    "$(ss -tnH state established "( sport = :$store_port )" | wc -l)" >"$work/store-$tag"
  # Per thread name, summed over the agents; threads born during the window count from 0.
  LC_ALL=C join -a 2 -o '0,1.2,2.2,2.3' -e 0 "$work/threads0-$tag" "$work/threads1-$tag" \
    | awk -v hz="$hz" -v el="$elapsed" '{cpu[$4] += ($3 - $2); n[$4]++} END {for (k in cpu) printf "%s %.3f %d\n", k, cpu[k] * 100 / hz / el, n[k]}' \
    | sort -k2,2nr >"$work/threads-$tag"
}

# ---------------------------------------------------------------------------------------------- pgha
run_pgha() {
  echo "pgha: starting a 3-node demo on 127.0.0.1:$base.." >&2
  "$root/pgha" demo --reset --dir "$work/demo" --base-port "$base" >"$work/demo.out" 2>&1 &
  demo_pid=$!
  demo_running() { kill -0 "$demo_pid" 2>/dev/null || { cat "$work/demo.out" >&2; exit 1; }; grep -q "^pgha demo is running" "$work/demo.out"; }
  wait_for 180 "pgha demo running" demo_running
  wait_for 60 "pgha demo status healthy" "$root/pgha" demo status --dir "$work/demo"
  pause "$settle"
  "$root/pgha" demo status --dir "$work/demo" >"$work/pgha-status-before" 2>&1 || { cat "$work/pgha-status-before" >&2; return 1; }
  local agents="" n pid
  for n in n1 n2 n3; do
    pid=$(pgrep -f -- "run --config $work/demo/$n.yaml" | head -1)
    [ -n "$pid" ] || { echo "bench/footprint: no agent process for $n" >&2; return 1; }
    agents+="$n:$pid "
  done
  agents+="supervisor:$(pgrep -f -- "pgha.dll demo --reset --dir $work/demo" | head -1)"
  local witness; witness=$(head -1 "$work/demo/witness/data/postmaster.pid")
  echo "pgha: idle, measuring for ${seconds} s" >&2
  measure "$agents" "$witness" "$base" pgha
  "$root/pgha" demo status --dir "$work/demo" >"$work/pgha-status-after" 2>&1 || { echo "bench/footprint: the pgha demo was not healthy at the end of the window" >&2; cat "$work/pgha-status-after" >&2; }
  # Who holds the witness connections, by application_name (the agents do not name most of theirs).
  PGPASSWORD=$(sed -n 's/.*"superuser_password": "\([^"]*\)".*/\1/p' "$work/demo/demo.json" | head -1) \
    "$bin/psql" -h 127.0.0.1 -p "$base" -U postgres -d postgres -AtF ' ' -c \
    "select count(*), coalesce(nullif(application_name, ''), '(none)') from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid() group by 2 order by 1 desc" \
    >"$work/witness-apps"
  stop_pgha
}

# ------------------------------------------------------------------------------------------- Patroni
run_patroni() {
  local pb=$((base + 100)) etcd_port=$((base + 100)) etcd_peer=$((base + 101))
  echo "patroni: starting etcd on 127.0.0.1:$etcd_port and 3 members (ttl $p_ttl, loop_wait $p_loop, retry_timeout $p_retry)" >&2
  mkdir -p "$work/etcd"
  etcd --name footprint --data-dir "$work/etcd/data" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-cluster "footprint=http://127.0.0.1:$etcd_peer" --initial-cluster-state new \
    --log-level warn >"$work/etcd/etcd.log" 2>&1 &
  etcd_pid=$!
  wait_for 30 "etcd healthy" etcdctl --endpoints "http://127.0.0.1:$etcd_port" endpoint health
  mkdir -p "$work/patroni"
  local i
  for i in 1 2 3; do
    local pg=$((pb + 1 + i)) api=$((pb + 10 + i)) dir="$work/patroni/n$i"
    mkdir -p "$dir"
    cat >"$work/patroni/n$i.yml" <<EOF
scope: footprint
name: n$i
restapi:
  listen: 127.0.0.1:$api
  connect_address: 127.0.0.1:$api
etcd3:
  hosts: 127.0.0.1:$etcd_port
bootstrap:
  dcs:
    ttl: $p_ttl
    loop_wait: $p_loop
    retry_timeout: $p_retry
    postgresql:
      use_pg_rewind: true
  initdb: [{encoding: UTF8}, data-checksums]
  pg_hba:
    - host replication replicator 127.0.0.1/32 scram-sha-256
    - host all all 127.0.0.1/32 scram-sha-256
postgresql:
  listen: 127.0.0.1:$pg
  connect_address: 127.0.0.1:$pg
  data_dir: $dir/data
  bin_dir: $bin
  pgpass: $dir/pgpass
  authentication:
    superuser: {username: postgres, password: footprint}
    replication: {username: replicator, password: footprint}
  parameters:
    unix_socket_directories: $dir
EOF
  done
  chown -R postgres "$work/patroni"
  for i in 1 2 3; do
    runuser -u postgres -- patroni "$work/patroni/n$i.yml" >"$work/patroni/n$i.log" 2>&1 &
    patroni_runners+=($!)
    [ "$i" = 1 ] && sleep 3   # n1 bootstraps; the others then join as replicas
  done
  local leader_api=""
  streaming_two() {
    local i
    for i in 1 2 3; do
      if curl -sf -o /dev/null "http://127.0.0.1:$((pb + 10 + i))/primary"; then
        [ "$(PGPASSWORD=footprint "$bin/psql" -h 127.0.0.1 -p $((pb + 1 + i)) -U postgres -d postgres -Atc "select count(*) from pg_stat_replication where state = 'streaming'")" = 2 ] && return 0
      fi
    done
    return 1
  }
  wait_for 180 "Patroni leader with 2 streaming replicas" streaming_two || { tail -20 "$work"/patroni/n*.log >&2; return 1; }
  pause "$settle"
  local agents="" pid
  for i in 1 2 3; do
    pid=$(pgrep -u postgres -f "bin/patroni $work/patroni/n$i.yml" | head -1)
    [ -n "$pid" ] || { echo "bench/footprint: no Patroni process for n$i" >&2; return 1; }
    agents+="n$i:$pid "
  done
  echo "patroni: idle, measuring for ${seconds} s" >&2
  measure "$agents" "$etcd_pid" "$etcd_port" patroni
  wait_for 10 "Patroni leader with 2 streaming replicas at the end of the window" streaming_two \
    || patronictl -c "$work/patroni/n1.yml" list >&2 || true
  stop_patroni
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
[ "$only" = patroni ] || run_pgha
[ "$only" = pgha ] || run_patroni
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------- report
range() {  # $1 file, $2 column → "min-max" over the n* rows
  awk -v c="$2" '$1 ~ /^n[0-9]/ {v = $c + 0; if (min == "" || v < min) min = v; if (v > max) max = v; s = $c} END {
    if (min == max) printf "%s", s; else if (c == 2) printf "%.2f-%.2f", min, max; else printf "%d-%d", min, max}' "$1"
}
echo
echo "Idle for ${seconds} s after ${settle} s of settling, $(nproc) cores, PostgreSQL $("$bin/postgres" --version | awk '{print $3}'), $(patroni --version), etcd $(etcd --version | awk '/etcd Version/ {print $3}'); load average before $load_before, after $load_after"
echo
echo "| per agent (3 agents, min-max) | CPU % of one core | RSS MB | threads | connections to the control-plane store |"
echo "| --- | --- | --- | --- | --- |"
[ -f "$work/rows-pgha" ] && echo "| pgha (\`pgha run\`, one per node; store: the witness PostgreSQL) | $(range "$work/rows-pgha" 2) | $(range "$work/rows-pgha" 3) | $(range "$work/rows-pgha" 4) | $(range "$work/rows-pgha" 5) |"
[ -f "$work/rows-patroni" ] && echo "| Patroni (ttl $p_ttl, loop_wait $p_loop; store: etcd) | $(range "$work/rows-patroni" 2) | $(range "$work/rows-patroni" 3) | $(range "$work/rows-patroni" 4) | $(range "$work/rows-patroni" 5) |"
echo
echo "| also running | CPU % of one core | memory MB | processes / threads | connections it serves |"
echo "| --- | --- | --- | --- | --- |"
[ -f "$work/rows-pgha" ] && awk '$1 == "supervisor" {printf "| `pgha demo` supervisor (the demo only) | %.2f | %d (RSS) | %d threads | %d to the witness |\n", $2, $3, $4, $5}' "$work/rows-pgha"
[ -f "$work/store-pgha" ] && awk '{printf "| witness PostgreSQL (postmaster and every backend) | %.2f | %d (PSS, summed) | %d processes | %d |\n", $2, $3, $4, $5}' "$work/store-pgha"
[ -f "$work/store-patroni" ] && awk '{printf "| etcd (one member) | %.2f | %d (PSS) | 1 process | %d |\n", $2, $3, $5}' "$work/store-patroni"
for tag in pgha patroni; do
  [ -f "$work/rows-$tag" ] || continue
  echo
  echo "**$tag, per process**: $(awk '{printf "%s%s %.2f %% CPU, %d MB, %d threads, %d store connections", (NR > 1 ? "; " : ""), $1, $2, $3, $4, $5}' "$work/rows-$tag")"
done
if [ -f "$work/witness-apps" ]; then
  echo
  echo "**witness client backends by application_name** (end of the window): $(awk '{printf "%s%d %s", (NR > 1 ? ", " : ""), $1, $2}' "$work/witness-apps")"
fi
for tag in pgha patroni; do
  [ -f "$work/threads-$tag" ] || continue
  echo
  echo "**Where the idle CPU goes, $tag** (per thread name, summed over the 3 agents; % of one core; threads that ended inside the window are not listed)"
  echo
  echo "| thread name | CPU % | threads |"
  echo "| --- | --- | --- |"
  awk '$2 > 0 {printf "| %s | %.2f | %d |\n", $1, $2, $3}' "$work/threads-$tag" | head -12 | sed 's/_/ /g'
done
