# Sourced by scripts/test: runs the web app's browser tests (ui/tests/run.mjs) in
# Debian's headless Chromium, through playwright-core (pinned in ui/tests/package-lock.json,
# installed with `npm ci`; it never downloads a browser), against real servers the
# suite starts from the debug binary. Under CI=true as root, a missing Chromium is
# installed from Debian's packages first; otherwise its absence fails the run, naming
# the fix. Node.js 20 or later, with npm, is needed too.

chromium_fail() {
  echo "scripts/test: $*" >&2
  exit 1
}

ensure_chromium() {
  if ! command -v chromium >/dev/null && [[ ${CI:-} == true && $(id -u) == 0 ]]; then
    echo "scripts/test: installing Chromium from Debian's packages" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  command -v chromium >/dev/null || chromium_fail "Chromium is not installed (apt-get install chromium): the web app's tests need it"
  command -v npm >/dev/null || chromium_fail "npm is not installed: the web app's tests need Node.js 20 or later, with npm"
  node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
    chromium_fail "Node.js $(node --version) is too old for the web app's tests: 20 or later is needed"
}

run_browser_tests() {
  cargo build --locked -q --bin tasklane
  (cd ui/tests && npm ci --ignore-scripts --no-audit --no-fund --silent)
  TASKLANE_BIN="$PWD/target/debug/tasklane" TASKLANE_CHROMIUM="$(command -v chromium)" node ui/tests/run.mjs
}
