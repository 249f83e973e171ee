#!/usr/bin/env bash
# Runs every pgha test (unit, integration on real PostgreSQL clusters, end-to-end through the pgha
# binary). Installs its prerequisites first. Ends with one line: "N passed, N failed[, N skipped]".
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"

if ! scripts/prerequisites.sh --test; then
  echo "0 passed, 1 failed"
  exit 1
fi

if ! dotnet build HA.sln -nologo -v quiet -clp:ErrorsOnly; then
  echo "the build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

# The code style is part of the suite: a file dotnet format would change counts as one failure.
format_failed=0
if ! dotnet format HA.sln --verify-no-changes >/dev/null 2>&1; then
  echo "dotnet format would change these files (run: dotnet format HA.sln):"
  dotnet format HA.sln --verify-no-changes 2>&1 | sed -E 's/\(.*//' | sort -u | head -20
  format_failed=1
fi

# Wolverine's handler code is pre-generated (src/Api/Internal/Generated): generating it again must
# give the same files, or the committed code is stale (counts as one failure).
codegen_failed=0
codegen_dir="$(mktemp -d -t pgha-codegen.XXXXXX)"
if ! (cd "$codegen_dir" && dotnet "$root/src/Api/bin/Debug/net10.0/pgha.dll" codegen write >/dev/null 2>&1) \
   || ! diff -r "$codegen_dir/Internal/Generated" src/Api/Internal/Generated >/dev/null; then
  echo "the pre-generated Wolverine code is stale (run: cd src/Api && dotnet run --no-build -- codegen write)"
  diff -r "$codegen_dir/Internal/Generated" src/Api/Internal/Generated | head -20
  codegen_failed=1
fi
rm -rf "$codegen_dir"

log="$(mktemp -t pgha-test-log.XXXXXX)"
results="$(mktemp -d -t pgha-test-results.XXXXXX)"
dotnet test HA.sln --no-build -nologo --logger trx --results-directory "$results" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# The ten slowest tests (from each assembly's trx report): where the run's time goes.
echo "slowest tests:"
cat "$results"/*.trx 2>/dev/null | grep -o '<UnitTestResult [^>]*>' \
  | sed -n 's/.*testName="\([^"]*\)".*duration="\([0-9]*\):\([0-9]*\):\([0-9.]*\)".*outcome="\([A-Za-z]*\)".*/\2 \3 \4 \5 \1/p' \
  | awk '{ printf "%7.1f s  %s %s\n", $1 * 3600 + $2 * 60 + $3, $4, $5 }' | sort -rn | head -10
rm -rf "$results"

# Each test assembly ends with "Passed!  - Failed: F, Passed: P, Skipped: S, Total: T".
read -r passed failed skipped < <(awk '
  /(Passed|Failed)! +- Failed:/ {
    gsub(/,/, ""); for (i = 1; i <= NF; i++) {
      if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1)
    }
  }
  END { print p+0, f+0, s+0 }' "$log")
rm -f "$log"

failed=$((failed + format_failed + codegen_failed))
[ "$format_failed" -eq 0 ] && [ "$codegen_failed" -eq 0 ] || status=1

# No PostgreSQL started by a test may outlive the run (the orphan guards stop them asynchronously).
orphans() { pgrep -f -- "^[^ ]*/(postgres|etcd) .*(-D|--data-dir) /tmp/pgha-test-" | wc -l; }
for _ in $(seq 1 150); do [ "$(orphans)" -eq 0 ] && break; sleep 0.1; done
if [ "$(orphans)" -gt 0 ]; then
  echo "orphaned PostgreSQL processes after the test run:"
  pgrep -af -- "^[^ ]*/(postgres|etcd) .*(-D|--data-dir) /tmp/pgha-test-"
  failed=$((failed + 1))
  status=1
fi

if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "dotnet test exited with $status (a test host crashed or an assembly could not run)"
  failed=1
fi

summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
