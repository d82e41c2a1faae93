#!/usr/bin/env bash
# The README's two commands on a machine with only Python: `make serve` and `make test` run in
# private namespaces (network: loopback only; mounts: the system's PostgreSQL and Redis tools
# hidden behind a stub that exits 127; PIDs: so "nothing left running" can be checked exactly),
# with no CITU_* configuration and a new, empty data directory.
#
#   scripts/fresh-machine-check.sh            serve check, then the whole test suite
#   scripts/fresh-machine-check.sh --no-tests serve check only (about a minute)
#
# Needs root (unshare) and an installed venv: `make .venv/.installed` is run first, outside the
# namespaces, because installing needs the network. PYTEST_ADDOPTS passes through to `make test`.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HIDDEN_TOOLS=(pg_ctlcluster pg_isready psql redis-server redis-cli)
HEALTH_TIMEOUT=${FRESH_CHECK_HEALTH_TIMEOUT:-180}
STOP_TIMEOUT=${FRESH_CHECK_STOP_TIMEOUT:-60}

say() { printf 'fresh-check: %s\n' "$*"; }
fail() { printf 'fresh-check: FAIL: %s\n' "$*" >&2; exit 1; }

if [[ "${1:-}" != "--inside" ]]; then
  [[ $(id -u) == 0 ]] || fail "needs root for unshare (mount and network namespaces)"
  command -v unshare >/dev/null || fail "unshare (util-linux) is missing"
  cd "$ROOT"
  make --no-print-directory .venv/.installed
  exec unshare --mount --net --pid --fork --mount-proc -- bash "$0" --inside "$@"
fi
shift
RUN_TESTS=1
[[ "${1:-}" == "--no-tests" ]] && RUN_TESTS=0
cd "$ROOT"
PY="$ROOT/.venv/bin/python"

# --- the machine: loopback only, no system database or Redis tools -------------------------
if command -v ip >/dev/null; then
  ip link set lo up
else
  "$PY" - <<'EOF'  # no iproute2: SIOCSIFFLAGS on lo
import fcntl, socket, struct
s = socket.socket()
ifreq = struct.pack("16sH14s", b"lo", 0x1 | 0x8 | 0x40, b"")  # IFF_UP | IFF_LOOPBACK | IFF_RUNNING
fcntl.ioctl(s, 0x8914, ifreq)
EOF
fi
WORK=$(mktemp -d /tmp/citu-fresh.XXXXXX)
MOUNTED=()
cleanup() {
  for path in "${MOUNTED[@]}"; do umount "$path" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
STUB="$WORK/missing-tool"
printf '#!/bin/sh\necho "$(basename "$0"): not installed (hidden by fresh-machine-check)" >&2\nexit 127\n' >"$STUB"
chmod +x "$STUB"
hidden=0
for tool in "${HIDDEN_TOOLS[@]}"; do
  while read -r path; do
    [[ -z "$path" || "$path" == "$ROOT/.venv/"* ]] && continue
    mount --bind "$STUB" "$path"
    MOUNTED+=("$path")
    hidden=$((hidden + 1))
  done < <(type -aP "$tool" 2>/dev/null | sort -u)
  if command -v "$tool" >/dev/null && "$tool" --version >/dev/null 2>&1; then
    fail "$tool still runs"
  fi
done
say "loopback only; ${hidden} system tool(s) hidden: ${HIDDEN_TOOLS[*]}"

# --- a new user: no configuration, an empty data directory ----------------------------------
while read -r name; do unset "$name"; done < <(env | sed -n 's/^\(CITU_[A-Z_]*\)=.*/\1/p' | grep -v '^CITU_TEST_REDIS_DB$' || true)
unset PROMETHEUS_MULTIPROC_DIR
# Only `make serve` gets these (an empty data directory each run); `make test` sees no CITU_*.
SERVE_ENV=(CITU_DATA_DIR="$WORK/data" CITU_LOG_DIR="$WORK/logs")

probe() {  # probe URL -> prints "<status> <body>" (Python only: no curl on a fresh machine)
  "$PY" - "$1" <<'EOF'
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
        print(r.status, r.read().decode("utf-8", "replace"))
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode("utf-8", "replace"))
except Exception as e:  # noqa: BLE001 - not up yet
    print(0, type(e).__name__)
EOF
}

up() {  # the /health body says database and Redis are up
  "$PY" -c '
import json, sys
services = json.loads(sys.stdin.read().split(" ", 1)[1])["services"]
def ok(v):
    return v is True or (isinstance(v, dict) and str(v.get("status", "")).lower() in ("ok", "up", "healthy"))
sys.exit(0 if ok(services.get("database")) and ok(services.get("redis")) else 1)' 2>/dev/null
}

left_running() {  # live (non-zombie) postgres / redis-server processes in this PID namespace
  ps -eo stat=,comm= | awk '$1 !~ /^Z/ && ($2 == "postgres" || $2 == "redis-server")' | wc -l
}

# --- make serve, /health, two routes, Ctrl-C (a first start, then a start on the same data) ---
BASE=http://127.0.0.1:8084

serve_round() {  # serve_round LABEL
  local label=$1 started ms health answer running stop_started serve
  set -m  # its own process group, and SIGINT not ignored: as a terminal's foreground job
  started=$(date +%s%N)
  env "${SERVE_ENV[@]}" make --no-print-directory serve >"$WORK/serve-$label.log" 2>&1 &
  serve=$!
  set +m
  while :; do
    health=$(probe "$BASE/health")
    if [[ "$health" == 200* ]] && up <<<"$health"; then break; fi
    if ! kill -0 "$serve" 2>/dev/null; then cat "$WORK/serve-$label.log" >&2; fail "make serve exited"; fi
    if ((($(date +%s%N) - started) / 1000000000 > HEALTH_TIMEOUT)); then
      cat "$WORK/serve-$label.log" >&2
      fail "no healthy /health in ${HEALTH_TIMEOUT}s: ${health:0:300}"
    fi
    sleep 0.2
  done
  ms=$((($(date +%s%N) - started) / 1000000))
  say "[$label] healthy /health $((ms / 1000)).$(printf '%03d' $((ms % 1000)))s after make serve started"
  say "[$label] health: ${health:4:400}"
  for route in /api/v0/user/fresh_check_user/conversations /api/v0/training_data/stats; do
    answer=$(probe "$BASE$route")
    [[ "$answer" == 200* ]] || fail "GET $route answered ${answer:0:300}"
    say "[$label] GET $route -> 200 ${answer:4:120}"
  done
  running=$(left_running)
  ((running >= 2)) || fail "expected the embedded postgres and redis-server, found $running"
  say "[$label] running: $(ps -eo comm= | grep -cx postgres) postgres process(es), $(ps -eo comm= | grep -cx redis-server) redis-server"

  kill -INT -- "-$serve"  # Ctrl-C
  stop_started=$(date +%s%N)
  while kill -0 "$serve" 2>/dev/null; do
    if ((($(date +%s%N) - stop_started) / 1000000000 > STOP_TIMEOUT)); then
      ps -eo pid,pgid,stat,args --forest | cut -c1-160 >&2
      tail -n 20 "$WORK/serve-$label.log" >&2
      fail "make serve still running ${STOP_TIMEOUT}s after Ctrl-C"
    fi
    sleep 0.1
  done
  wait "$serve" 2>/dev/null || true
  ms=$((($(date +%s%N) - stop_started) / 1000000))
  sleep 0.5
  running=$(left_running)
  if ((running != 0)); then
    ps -eo pid,stat,comm,args | grep -E 'postgres|redis-server' | grep -v grep >&2
    fail "$running postgres/redis-server process(es) left after Ctrl-C"
  fi
  say "[$label] after Ctrl-C: make serve ended in $((ms / 1000)).$(printf '%03d' $((ms % 1000)))s; no postgres or redis-server left"
  grep -E '^citu: (database|redis|stopped)' "$WORK/serve-$label.log" | sed "s/^/fresh-check:   [$label] /" || true
}

say "$("$ROOT/.venv/bin/citu" --version)"
serve_round first
serve_round again

# --- make test --------------------------------------------------------------------------------
if ((RUN_TESTS)); then
  say "make test ..."
  test_started=$(date +%s)
  status=0
  make --no-print-directory test >"$WORK/test.log" 2>&1 || status=$?
  tail -n 15 "$WORK/test.log" | grep -E 'passed|failed|error|FAILED|ERROR' | sed 's/^/fresh-check:   /' || true
  ((status == 0)) || { tail -n 60 "$WORK/test.log" >&2; fail "make test exited $status"; }
  say "make test passed in $(($(date +%s) - test_started))s"
  running=$(left_running)
  ((running == 0)) || fail "$running postgres/redis-server process(es) left after make test"
fi
say "OK"
