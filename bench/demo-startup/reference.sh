#!/usr/bin/env bash
# Reference for the demo start-up benchmark: the same cluster built by hand with PostgreSQL's own
# programs and nothing else (witness + primary + 2 streaming replicas, checksums, slots), timed
# until the primary reports both replicas streaming. What pgha demo --reset does, minus pgha: like
# --reset it first stops and removes the cluster a previous run left in DIR.
# usage: reference.sh DIR BASE_PORT
set -euo pipefail
dir=$1; base=$2
bin=$(pg_config --bindir)
as() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ -d "$dir" ]; then
  for d in "$dir"/*/data; do [ -f "$d/postmaster.pid" ] && as "$bin/pg_ctl" stop -D "$d" -m immediate -s; done
  rm -rf "$dir"
fi
mkdir -p "$dir"; [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
conf() { # dir port
  cat >> "$1/data/postgresql.conf" <<CONF
port = $2
listen_addresses = '127.0.0.1'
unix_socket_directories = '$1'
wal_level = replica
hot_standby = on
wal_log_hints = on
shared_buffers = '32MB'
CONF
}
init() { # name port
  as mkdir -p "$dir/$1"
  as "$bin/initdb" -D "$dir/$1/data" -U postgres --data-checksums -E UTF8 --locale C --auth-local trust --auth-host trust --no-instructions >/dev/null
  conf "$dir/$1" "$2"
  echo "host replication all 127.0.0.1/32 trust" | as tee -a "$dir/$1/data/pg_hba.conf" >/dev/null
  as "$bin/pg_ctl" start -D "$dir/$1/data" -l "$dir/$1/log" -w -s
}
init witness "$base" &
init n1 $((base + 1))
wait
for i in 2 3; do
  (
    as mkdir -p "$dir/n$i"
    as "$bin/pg_basebackup" -D "$dir/n$i/data" -h 127.0.0.1 -p $((base + 1)) -U postgres -X stream -c fast -C -S "n$i" -R
    as sed -i "/^port = /d;/^unix_socket_directories/d" "$dir/n$i/data/postgresql.conf"
    conf "$dir/n$i" $((base + i))
    as "$bin/pg_ctl" start -D "$dir/n$i/data" -l "$dir/n$i/log" -w -s
  ) &
done
wait
until [ "$(as "$bin/psql" -h "$dir/n1" -p $((base + 1)) -U postgres -Atc "select count(*) from pg_stat_replication where state = 'streaming'")" = 2 ]; do sleep 0.05; done
