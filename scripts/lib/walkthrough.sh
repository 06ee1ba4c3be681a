# Shared by the AWS CLI walkthroughs (scripts/aws-walkthrough-*.sh): the binary and work dir,
# cleanup of every process they start, step/fail output, a free loopback port, a JSON reader,
# an AWS CLI environment that reads no user configuration, and `start_server`, which runs
# `underpass server --json` and sets READY (its JSON line) and URL.
UNDERPASS="${UNDERPASS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/target/debug/underpass}"
WORK="${WORK:-$(mktemp -d)}"
mkdir -p "$WORK"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
json() { python3 -c 'import json,sys; print(json.load(sys.stdin)'"$1"')'; }

export AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent
unset AWS_PROFILE AWS_SESSION_TOKEN

start_server() {
  mkfifo "$WORK/server.out"
  "$UNDERPASS" server --json --data-dir "$WORK/server" --listen 127.0.0.1:0 --agent-listen 127.0.0.1:0 \
    --tunnel-port "$(free_port)" --account-id 000000000000 >"$WORK/server.out" &
  PIDS+=($!)
  exec 3<"$WORK/server.out"
  read -r -t 30 READY <&3 || fail "the server printed no JSON line"
  URL=$(echo "$READY" | json '["api_url"]')
  export UNDERPASS_ENDPOINT_URL="$URL"
}

as_admin() {
  AWS_ACCESS_KEY_ID=$(echo "$READY" | json '["access_key_id"]') \
  AWS_SECRET_ACCESS_KEY=$(echo "$READY" | json '["secret_access_key"]') "$@"
}
