#!/usr/bin/env bash
# Smoke test of the README's tour with the real binaries: start `slt-hub serve --dev` on a
# fresh data dir, submit the example incident with `slt`, list it, get it, check another org's
# view is redacted and an analyst cannot submit, then stop the hub. Exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --locked -p slt-hub -p slt-client
hub_bin=target/debug/slt-hub
slt_bin=target/debug/slt
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
log="$data/hub.log"
"$hub_bin" serve --dev --data-dir "$data/slt-data" --listen "127.0.0.1:$port" >"$log" 2>&1 &
hub_pid=$!
cleanup() { kill "$hub_pid" 2>/dev/null || true; wait "$hub_pid" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

for _ in $(seq 1 100); do
  grep -q "dev mode is serving" "$log" && break
  sleep 0.1
done
grep -q "dev mode is serving" "$log" || { cat "$log"; echo "smoke: the dev hub did not start"; exit 1; }

passed=0
failed=0
check() { # check NAME COMMAND...: the command must succeed
  local name=$1; shift
  if "$@" >"$data/out" 2>&1; then passed=$((passed + 1)); echo "ok   $name";
  else failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/     /' "$data/out"; fi
}

profiles="$data/slt-data/profiles"
example="$data/slt-data/examples/incident.json"
submitted_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$example")
reporter=(--profile "$profiles/ngo-alpha.reporter.toml")

check "submit creates" bash -c "'$slt_bin' ${reporter[*]} --format json submit '$example' > '$data/submitted.json' && grep -q CREATED '$data/submitted.json'"
# The hub's id (in ngo-alpha's own id space), as every reader names the incident.
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["id"])' "$data/submitted.json")
check "the submitter may still use its submitted id" bash -c "'$slt_bin' ${reporter[*]} --format json get '$submitted_id' | grep -q '\"$id\"'"
check "resubmit is unchanged" bash -c "'$slt_bin' ${reporter[*]} submit '$example' | grep -q UNCHANGED"
check "list shows it" bash -c "'$slt_bin' ${reporter[*]} list | grep -q '$id'"
check "get (json) has the narrative" bash -c "'$slt_bin' ${reporter[*]} --format json get '$id' | grep -q '\"narrative\"'"
check "another org's focal point gets it redacted" bash -c "'$slt_bin' --profile '$profiles/undss.focal_point.toml' --format json get '$id' | grep -q '\"redactedFields\"'"
# The record rule: a lone incident is in no class of 3, so another org's analyst (T1) is told
# it does not exist.
check "another org's analyst does not get a lone incident" bash -c "! '$slt_bin' --profile '$profiles/ngo-beta.analyst.toml' get '$id' > '$data/lone.out' 2>&1 && grep -qi 'not found' '$data/lone.out'"
check "an analyst cannot submit" bash -c "! '$slt_bin' --profile '$profiles/ngo-beta.analyst.toml' submit '$example' 2>&1 | grep -q CREATED && '$slt_bin' --profile '$profiles/ngo-beta.analyst.toml' submit '$example' 2>&1 | grep -q 'permission denied'"
check "csv output" bash -c "'$slt_bin' ${reporter[*]} --format csv list | head -1 | grep -q '^id,version'"
check "sync makes a mirror" bash -c "'$slt_bin' --profile '$profiles/undss.focal_point.toml' sync --mirror '$data/mirror.db' | grep -q '1 upserts'"
check "an auditor exports the access log" bash -c "'$slt_bin' --profile '$profiles/audit-office.auditor.toml' audit export --out '$data/audit.jsonl' | grep -q 'exported'"
check "a second sync resumes" bash -c "'$slt_bin' --profile '$profiles/undss.focal_point.toml' sync --mirror '$data/mirror.db' | grep -q 'resumed'"

echo "smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
