# Sourced by scripts/test: provides a Redis for the test suite and exports
# TASKLANE_TEST_REDIS_URL (logical database 15, emptied first) and
# TASKLANE_TEST_REDIS_SERVER (the redis-server binary the fault tests start and kill).
#
# - A Redis answering on 127.0.0.1:6379 is used as it is (only its database 15).
# - Otherwise (or with TASKLANE_TEST_SERVICES=throwaway) a throwaway redis-server is
#   started on a free port, without persistence, and stopped when the script exits.
#   Under CI=true as root, a missing installation is installed from Debian first.
# - If neither works, the run fails: a test that needs Redis never skips.

redis_fail() {
  echo "scripts/test: $*" >&2
  exit 1
}

redis_answers() { # port
  [[ $(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null) == PONG ]]
}

ensure_redis() {
  if ! command -v redis-server >/dev/null; then
    if [[ ${CI:-} == true && $(id -u) == 0 ]]; then
      echo "scripts/test: installing Redis from Debian's packages" >&2
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    fi
    command -v redis-server >/dev/null || redis_fail "redis-server is not installed (apt-get install redis-server)"
  fi
  export TASKLANE_TEST_REDIS_SERVER
  TASKLANE_TEST_REDIS_SERVER=$(command -v redis-server)

  local port=6379
  if [[ ${TASKLANE_TEST_SERVICES:-} == throwaway ]] || ! redis_answers 6379; then
    port=56379
    while ! port_is_free "$port"; do port=$((port + 1)); done
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
      >/dev/null 2>&1 &
    local pid=$!
    cleanups+=("kill $pid 2>/dev/null")
    for _ in $(seq 50); do redis_answers "$port" && break; sleep 0.1; done
    redis_answers "$port" || redis_fail "the throwaway Redis did not start on 127.0.0.1:$port"
    echo "scripts/test: started a throwaway Redis on 127.0.0.1:$port" >&2
  fi
  redis-cli -h 127.0.0.1 -p "$port" -n 15 flushdb >/dev/null
  export TASKLANE_TEST_REDIS_URL="redis://127.0.0.1:$port/15"
}
