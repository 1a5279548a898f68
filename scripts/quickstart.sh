#!/usr/bin/env bash
# README's quick start on a fresh clone, step by step in README order, failing when a step or an
# example does not answer as README says. Run by .ci/run; `npm run quickstart` runs it by hand.
#
#   1. a fresh clone: the files git would give (tracked + new, not ignored) copied to a temp dir —
#      no node_modules, dist, .data or .env;
#   2. README's first command, `npm ci && npm run seed && npm start`: install, sample data, build
#      and start (in the background, on a free loopback port), then wait for /health;
#   3. README's "Examples" block, run as written (BASE pointed at that port), each curl's status
#      checked against the `# → <status> [error_code]` note README gives it, in order;
#   4. README's `npm test`: the whole suite, which .ci/run runs on this tree itself, so here only
#      with QUICKSTART_RUN_TESTS=1;
#   5. the service is stopped (SIGTERM, then SIGKILL) and the clone removed.
#
# Environment: QUICKSTART_STORE=memory (default: the in-process store, because the embedded mongod
# cannot be downloaded offline) | auto (README's default as is: embedded mongod, else in-process);
# QUICKSTART_NPM=ci (default: `npm ci --prefer-offline`) | link (hard-link this tree's node_modules,
# same lockfile, much faster); QUICKSTART_START_TIMEOUT=300 (seconds until /health answers, the
# first build included); QUICKSTART_KEEP=1 keeps the clone. Listens on 127.0.0.1 only.
set -euo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
STORE="${QUICKSTART_STORE:-memory}"
NPM_MODE="${QUICKSTART_NPM:-ci}"
START_TIMEOUT="${QUICKSTART_START_TIMEOUT:-300}"

step() { printf '\n\033[1mquickstart: %s\033[0m\n' "$*"; }
fail() {
  printf '\nquickstart FAILED: %s\n' "$*" >&2
  exit 1
}

WORK="$(mktemp -d "${TMPDIR:-/tmp}/quickstart.XXXXXX")"
CLONE="$WORK/clone"
SERVICE_PID=""

stop_service() {
  [ -n "$SERVICE_PID" ] || return 0
  if kill -0 "$SERVICE_PID" 2>/dev/null; then
    # The service runs in its own process group (setsid): npm and node stop together.
    kill -TERM -- "-$SERVICE_PID" 2>/dev/null || true
    for _ in $(seq 1 30); do
      kill -0 "$SERVICE_PID" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$SERVICE_PID" 2>/dev/null; then
      echo "quickstart: the service did not stop within 15 s of SIGTERM; killing it" >&2
      kill -KILL -- "-$SERVICE_PID" 2>/dev/null || true
    fi
  fi
  wait "$SERVICE_PID" 2>/dev/null || true
  SERVICE_PID=""
}
cleanup() {
  local rc=$?
  stop_service
  if [ "$rc" -ne 0 ] && [ -f "$WORK/service.log" ]; then
    echo "--- last lines of the service's output ---" >&2
    tail -n 40 "$WORK/service.log" >&2 || true
  fi
  if [ "${QUICKSTART_KEEP:-}" = "1" ]; then echo "quickstart: kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. a fresh clone ----------------------------------------------------------------------------
step "fresh clone of $SRC → $CLONE"
mkdir -p "$CLONE"
(cd "$SRC" && git ls-files -z --cached --others --exclude-standard |
  tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$CLONE"
cd "$CLONE"
[ -f README.md ] && [ -f package.json ] || fail "the clone has no README.md or package.json"
for leftover in node_modules dist .data .env; do
  [ ! -e "$leftover" ] || fail "the clone is not fresh: $leftover exists"
done

# README's first command, checked rather than assumed: the script follows what README says.
FIRST="$(awk '/^```bash$/ { inblock = 1; next } inblock { print; exit }' README.md)"
EXPECTED_FIRST='npm ci && npm run seed && npm start'
case "$FIRST" in
  "$EXPECTED_FIRST"*) ;;
  *) fail "README's first command is now \"${FIRST%%#*}\"; this script performs \"$EXPECTED_FIRST\" — make them agree" ;;
esac

# Loopback only, on a free port; the store as chosen above; nothing from the caller's environment
# that would change what a newcomer gets.
PORT="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
unset MONGODB_URI PAYMENT_STORE JWT_SECRET REDIS_URL SEED_FILE DATA_DIR ESCROW_RECEIVER_ADDRESS NODE_ENV PUBLIC_BASE_URL ENABLE_DEV_ROUTES
export PORT HOST=127.0.0.1 CI=true
[ "$STORE" = "memory" ] && export PAYMENT_STORE=memory
echo "quickstart: store=$STORE (PAYMENT_STORE=${PAYMENT_STORE:-unset}), port $PORT, host 127.0.0.1"

# --- 2. npm ci && npm run seed && npm start ------------------------------------------------------
step "npm ci"
t0=$SECONDS
if [ "$NPM_MODE" = "link" ]; then
  [ -d "$SRC/node_modules" ] || fail "QUICKSTART_NPM=link needs $SRC/node_modules"
  cmp -s "$SRC/package-lock.json" package-lock.json || fail "QUICKSTART_NPM=link: the lockfiles differ"
  cp -al "$SRC/node_modules" node_modules
  echo "(hard-linked $SRC/node_modules: same lockfile)"
else
  timeout 900 npm ci --prefer-offline --no-audit --no-fund || fail "npm ci"
fi
echo "quickstart: npm ci took $((SECONDS - t0)) s"

step "npm run seed"
timeout 180 npm run seed >"$WORK/seed.out" 2>&1 || { cat "$WORK/seed.out" >&2; fail "npm run seed"; }
grep -E '^(The store|Seeded|purchaseRequestId|sellerOfferIds)' "$WORK/seed.out" || true
grep -q '^purchaseRequestId=65a0c0ffee00000000000001$' "$WORK/seed.out" || fail "npm run seed did not print the sample purchaseRequestId"

step "npm start (background) and wait for /health"
t0=$SECONDS
setsid npm start >"$WORK/service.log" 2>&1 &
SERVICE_PID=$!
HEALTH="http://127.0.0.1:$PORT/api/payment/health"
until curl -fsS --max-time 5 -o /dev/null "$HEALTH" 2>/dev/null; do
  kill -0 "$SERVICE_PID" 2>/dev/null || fail "npm start exited before /health answered"
  [ $((SECONDS - t0)) -lt "$START_TIMEOUT" ] || fail "/health did not answer 200 within $START_TIMEOUT s"
  sleep 1
done
echo "quickstart: healthy after $((SECONDS - t0)) s (build included)"
grep -q '"msg":"listening"\|listening' "$WORK/service.log" || fail "the service printed no 'listening' line"

# --- 3. README's Examples, as written ------------------------------------------------------------
step "README's Examples"
awk '
  /^### Examples/ { inside = 1; next }
  inside && /^#{1,3} / { exit }
  inside && /^```bash$/ { block = 1; next }
  block && /^```$/ { exit }
  block { print }
' README.md >"$WORK/examples.sh"
[ -s "$WORK/examples.sh" ] || fail "README has no bash block under ### Examples"
grep -q '^BASE=http://localhost:3000/api/payment$' "$WORK/examples.sh" ||
  fail "README's Examples no longer start with BASE=http://localhost:3000/api/payment"

# Each curl in the block carries a note `# → <status> [error_code]`; collect them in order.
grep -o '# → [0-9][0-9][0-9]\( [a-z][a-z]*\(_[a-z][a-z]*\)\+\)\?' "$WORK/examples.sh" | sed 's/^# → //' >"$WORK/expected" || true

# Run the block as written, with BASE on this port and curl wrapped to record each status.
{
  cat <<'PRELUDE'
set -euo pipefail
__qs_n=0
curl() {
  __qs_n=$((__qs_n + 1))
  printf '\n$ curl %s\n' "$*" >&2
  command curl --max-time 15 "$@" -w "%{stderr}__QS__ $__qs_n %{http_code}\n" 2>>"$QS_STATUS" | tee "$QS_WORK/body.$__qs_n"
  echo
}
PRELUDE
  sed 's#^BASE=http://localhost:3000/api/payment$#BASE=http://127.0.0.1:'"$PORT"'/api/payment#' "$WORK/examples.sh"
} >"$WORK/run-examples.sh"
: >"$WORK/status"
QS_STATUS="$WORK/status" QS_WORK="$WORK" timeout 180 bash "$WORK/run-examples.sh" ||
  fail "README's Examples block stopped with an error (see above)"

grep '^__QS__ ' "$WORK/status" | awk '{ print $3 }' >"$WORK/actual"
expected_n=$(wc -l <"$WORK/expected")
actual_n=$(wc -l <"$WORK/actual")
[ "$actual_n" -gt 0 ] || fail "no example request was made"
[ "$expected_n" -eq "$actual_n" ] ||
  fail "README's Examples make $actual_n requests but give $expected_n '# → <status>' notes; give each curl one"

problems=0
i=0
while IFS= read -r want; do
  i=$((i + 1))
  got=$(sed -n "${i}p" "$WORK/actual")
  want_status=${want%% *}
  want_code=""
  [ "$want" = "$want_status" ] || want_code=${want#* }
  if [ "$got" != "$want_status" ]; then
    echo "example $i: answered $got, README says $want" >&2
    problems=$((problems + 1))
  elif [ -n "$want_code" ] && ! grep -q "\"code\":\"$want_code\"" "$WORK/body.$i"; then
    echo "example $i: answered $got without error code $want_code, README says $want" >&2
    problems=$((problems + 1))
  else
    echo "quickstart: example $i answered $got as README says ($want)"
  fi
done <"$WORK/expected"
[ "$problems" -eq 0 ] || fail "$problems example(s) did not answer as README says"
if grep -q -- '-o payments.csv' "$WORK/examples.sh"; then
  head -n 1 payments.csv | grep -q , || fail "payments.csv is not a CSV with a header line"
  echo "quickstart: payments.csv has $(($(wc -l <payments.csv) - 1)) row(s)"
fi

# --- 4. npm test ---------------------------------------------------------------------------------
if [ "${QUICKSTART_RUN_TESTS:-}" = "1" ]; then
  step "npm test"
  stop_service
  npm test || fail "npm test"
else
  step "npm test: not repeated here (.ci/run runs the suite on this tree; QUICKSTART_RUN_TESTS=1 runs it in the clone)"
fi

# --- 5. stop -------------------------------------------------------------------------------------
step "stop the service"
stop_service
echo "quickstart: README's quick start works on a fresh clone"
