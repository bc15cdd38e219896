# Sourced by scripts/test: provides a PostgreSQL for the test suite and exports
# TASKLANE_TEST_POSTGRES_URL, naming a fresh, empty database `tasklane_test` on it.
#
# - A server answering on 127.0.0.1:5432 (user postgres, trust auth) is used as it is.
# - Otherwise (or with TASKLANE_TEST_SERVICES=throwaway) a throwaway server is started
#   from the installed binaries on a free port, with its data in a temporary directory,
#   and stopped when the script exits. Under CI=true as root, a missing installation is
#   installed from Debian's packages first.
# - If neither works, the run fails: a test that needs PostgreSQL never skips.

postgres_fail() {
  echo "scripts/test: $*" >&2
  exit 1
}

postgres_binaries() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

start_throwaway_postgres() {
  local bin
  bin=$(postgres_binaries)
  if [[ -z $bin && ${CI:-} == true && $(id -u) == 0 ]]; then
    echo "scripts/test: installing PostgreSQL from Debian's packages" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bin=$(postgres_binaries)
  fi
  [[ -n $bin ]] || postgres_fail "PostgreSQL is not answering on 127.0.0.1:5432 and is not installed (apt-get install postgresql)"

  POSTGRES_TEST_DIR=$(mktemp -d /tmp/tasklane-postgres.XXXXXX)
  local as_owner=()
  if [[ $(id -u) == 0 ]]; then # initdb refuses to run as root
    chown postgres: "$POSTGRES_TEST_DIR"
    as_owner=(runuser -u postgres --)
  fi
  POSTGRES_TEST_PORT=55432
  while ! port_is_free "$POSTGRES_TEST_PORT"; do POSTGRES_TEST_PORT=$((POSTGRES_TEST_PORT + 1)); done
  "${as_owner[@]}" "$bin/initdb" -D "$POSTGRES_TEST_DIR/data" -U postgres --auth=trust -E UTF8 \
    >"$POSTGRES_TEST_DIR/initdb.log" 2>&1 || postgres_fail "initdb failed: see $POSTGRES_TEST_DIR/initdb.log"
  "${as_owner[@]}" "$bin/pg_ctl" -D "$POSTGRES_TEST_DIR/data" -l "$POSTGRES_TEST_DIR/server.log" -w \
    -o "-p $POSTGRES_TEST_PORT -k $POSTGRES_TEST_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start \
    >/dev/null || postgres_fail "the throwaway PostgreSQL did not start: see $POSTGRES_TEST_DIR/server.log"
  POSTGRES_STOP=("${as_owner[@]}" "$bin/pg_ctl" -D "$POSTGRES_TEST_DIR/data" -m immediate stop)
  cleanups+=(stop_throwaway_postgres)
  echo "scripts/test: started a throwaway PostgreSQL on 127.0.0.1:$POSTGRES_TEST_PORT" >&2
}

stop_throwaway_postgres() {
  "${POSTGRES_STOP[@]}" >/dev/null 2>&1 || true
  rm -rf "$POSTGRES_TEST_DIR"
}

ensure_postgres() {
  local port=5432
  if [[ ${TASKLANE_TEST_SERVICES:-} == throwaway ]] || ! (command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432); then
    start_throwaway_postgres
    port=$POSTGRES_TEST_PORT
  fi
  local admin="postgres://postgres@127.0.0.1:$port/postgres"
  command -v psql >/dev/null || postgres_fail "psql is not installed (apt-get install postgresql-client)"
  psql "$admin" -q -v ON_ERROR_STOP=1 \
    -c 'DROP DATABASE IF EXISTS tasklane_test WITH (FORCE)' -c 'CREATE DATABASE tasklane_test' \
    2>/dev/null || postgres_fail "cannot create the test database on 127.0.0.1:$port as user postgres"
  export TASKLANE_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/tasklane_test"
}
