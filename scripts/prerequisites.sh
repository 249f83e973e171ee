#!/usr/bin/env bash
# Installs what pgha needs from Debian's packages: the PostgreSQL server (for `./pgha demo`), and with
# --test also what the test suite needs. Idempotent and quiet when everything is there.
set -euo pipefail

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

missing=()
if ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
  missing+=(postgresql postgresql-contrib)
fi
if [ "${1:-}" = "--test" ]; then
  command -v pgbench >/dev/null || compgen -G "/usr/lib/postgresql/*/bin/pgbench" >/dev/null || missing+=(postgresql-contrib)
  # A three-member etcd cluster on loopback for the lease tests (the package starts no service here).
  [ -x /usr/bin/etcd ] && [ -x /usr/bin/etcdctl ] || missing+=(etcd-server etcd-client)
  # HAProxy checking nodes through their Patroni-compatible health endpoints (run by the tests, not as a service).
  [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "pgha: installing ${missing[*]} from Debian's packages" >&2
  # pgha creates its own clusters: keep the package from creating and starting a default one on 5432.
  $sudo mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.d/pgha.conf >/dev/null
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v dotnet >/dev/null; then
  echo "pgha: the .NET 10 SDK is required ('dotnet' is not on PATH)" >&2
  exit 1
fi
