# Sourced by scripts/test: runs Schemathesis (from PyPI, pinned, in a virtualenv under
# target/) against a real `tasklane serve` that requires tokens, with a real token,
# for a bounded time (TASKLANE_SCHEMATHESIS_SECONDS, default 30). Every check runs but
# positive_data_acceptance: some schema-valid requests are refused by design (a title
# of NUL characters, a stale If-Match, a reused Idempotency-Key), and say so with a 4xx.
# Any 5xx, undocumented status or response that breaks the schema fails the run.

SCHEMATHESIS_VERSION=4.32.5

ensure_schemathesis() {
  local venv=target/schemathesis
  if ! "$venv/bin/st" --version 2>/dev/null | grep -q "version $SCHEMATHESIS_VERSION"; then
    echo "scripts/test: installing schemathesis $SCHEMATHESIS_VERSION from PyPI into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
  fi
}

run_schemathesis() {
  ensure_schemathesis
  cargo build --locked -q --bin tasklane
  local dir port token pid
  dir=$(mktemp -d /tmp/tasklane-schemathesis.XXXXXX)
  cleanups+=("rm -rf $dir")
  local database="sqlite://$dir/tasklane.db"
  port=58080
  while ! port_is_free "$port"; do port=$((port + 1)); done
  target/debug/tasklane serve --listen "127.0.0.1:$port" --auth token --rate-limit 0 \
    --database-url "$database" --log error &
  pid=$!
  cleanups+=("kill $pid 2>/dev/null")
  # The server creates the database (tools only write to one that exists) and then
  # answers; a token is issued once it has.
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null &&
      token=$(target/debug/tasklane token create --workspace schemathesis \
        --database-url "$database" 2>/dev/null) && break
    sleep 0.1
  done
  [[ -n ${token:-} ]] || { echo "scripts/test: no token from the Schemathesis server" >&2; return 1; }
  target/schemathesis/bin/st --config-file scripts/lib/schemathesis.toml \
    run "http://127.0.0.1:$port/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks all --exclude-checks positive_data_acceptance \
    --max-time "${TASKLANE_SCHEMATHESIS_SECONDS:-30}" --workers 2
}
