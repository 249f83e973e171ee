#!/usr/bin/env bash
# How long `pgha demo --reset` takes to reach "both replicas streaming", against the same cluster
# built by hand (reference.sh), alternating the two, RUNS times each (default 5). Prints medians and
# the ratio as a markdown table for docs/benchmarks.md.
# usage: bench/demo-startup/run.sh [RUNS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
runs=${1:-5}
base=${PGHA_BENCH_PORT:-47000}
work=$(mktemp -d /tmp/pgha-bench-XXXXXX); chmod 755 "$work"
trap '"$root/pgha" demo destroy --dir "$work/demo" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$root/pgha" --help >/dev/null   # installs prerequisites and builds outside the timing

now() { date +%s.%N; }
pgha_times=(); ref_times=()
for i in $(seq 1 "$runs"); do
  out="$work/demo.out"
  start=$(now)
  "$root/pgha" demo --reset --dir "$work/demo" --base-port "$base" >"$out" 2>&1 &
  pid=$!
  until grep -q "^ready: 2 replicas streaming" "$out"; do
    kill -0 "$pid" 2>/dev/null || { cat "$out"; exit 1; }
    sleep 0.02
  done
  pgha_times+=("$(echo "$(now) - $start" | bc)")
  kill -TERM "$pid"; wait "$pid"

  # Like the demo after Ctrl-C, the reference's previous cluster is stopped (fast) but left on disk:
  # both then remove it inside the timed run.
  [ -d "$work/ref" ] && for d in "$work"/ref/*/data; do runuser -u postgres -- "$(pg_config --bindir)/pg_ctl" stop -D "$d" -m fast -s || true; done
  start=$(now)
  "$root/bench/demo-startup/reference.sh" "$work/ref" $((base + 10))
  ref_times+=("$(echo "$(now) - $start" | bc)")
done
for d in "$work"/ref/*/data; do runuser -u postgres -- "$(pg_config --bindir)/pg_ctl" stop -D "$d" -m immediate -s || true; done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
pm=$(median "${pgha_times[@]}"); rm_=$(median "${ref_times[@]}")
echo "| what | runs (s) | median (s) |"
echo "| --- | --- | --- |"
echo "| \`pgha demo --reset\` to \"ready: 2 replicas streaming\" | $(printf '%.2f ' "${pgha_times[@]}")| $(printf '%.2f' "$pm") |"
echo "| reference: same cluster by hand, removing the previous one first (reference.sh) | $(printf '%.2f ' "${ref_times[@]}")| $(printf '%.2f' "$rm_") |"
echo "| ratio pgha / reference | | $(echo "scale=2; $pm / $rm_" | bc) |"
