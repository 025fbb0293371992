#!/usr/bin/env bash
# A real end-to-end demonstration on keyhole's embedded defaults, in a throw-away user (temp HOME and XDG
# directories, file vault), so nothing of yours is touched:
#   a local HTTPS API that answers 401 unless it receives the real secret,
#   the secret added from the shell, curl under `keyhole run` succeeding with only a placeholder,
#   the audit line, and the workload's environment holding the placeholder, never the secret.
set -euo pipefail
cd "$(dirname "$0")/.."
keyhole=${KEYHOLE_BIN:-$PWD/.build/release/keyhole}
[[ -x $keyhole ]] || keyhole=$PWD/.build/debug/keyhole

demo=$(mktemp -d /tmp/keyhole-demo.XXXXXX)
export HOME=$demo/home XDG_CONFIG_HOME=$demo/home/.config XDG_DATA_HOME=$demo/home/.local/share
export XDG_STATE_HOME=$demo/home/.local/state XDG_RUNTIME_DIR=$demo/run KEYHOLE_STORE=file
unset KEYHOLE_PASSPHRASE DBUS_SESSION_BUS_ADDRESS HTTPS_PROXY HTTP_PROXY https_proxy http_proxy ALL_PROXY all_proxy
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME/keyhole" && chmod 700 "$XDG_RUNTIME_DIR"
upstream_pid=
cleanup() {
    "$keyhole" stop >/dev/null 2>&1 || true
    [[ -n $upstream_pid ]] && kill "$upstream_pid" 2>/dev/null || true
    rm -rf "$demo"
}
trap cleanup EXIT

secret="demo-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. A local HTTPS API (own private CA) that answers 401 unless it gets the real secret"
python3 Tests/EndToEnd/upstream.py --dir "$demo/upstream" --expect "demo=$secret" >/dev/null 2>&1 &
upstream_pid=$!
for _ in $(seq 100); do [[ -f $demo/upstream/upstream.json ]] && break; sleep 0.1; done
port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tls_port"])' "$demo/upstream/upstream.json")
plain=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["plain_port"])' "$demo/upstream/upstream.json")
ca=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ca"])' "$demo/upstream/upstream.json")
cat >"$XDG_CONFIG_HOME/keyhole/config.toml" <<TOML
upstream_ca = ["$ca"]
resolve = { "api.keyhole.test:$port" = "127.0.0.1:$port", "other.keyhole.test:$plain" = "127.0.0.1:$plain" }
TOML
url="https://api.keyhole.test:$port/bearer/demo"
echo "API: $url"
echo -n "without keyhole, with no token: "
curl -s -o /dev/null -w '%{http_code}\n' --cacert "$ca" --resolve "api.keyhole.test:$port:127.0.0.1" "$url"

step "2. Add the secret from the shell (stdin); the daemon starts by itself"
echo "printf %s \"\$SECRET\" | keyhole add demo --host api.keyhole.test --env DEMO_TOKEN --inject 'Authorization: Bearer {secret}'"
printf %s "$secret" | "$keyhole" add demo --host api.keyhole.test --env DEMO_TOKEN --inject 'Authorization: Bearer {secret}'
"$keyhole" list

step "3. curl under keyhole run, with the placeholder from its environment"
echo "keyhole run -- sh -c 'curl -sS -H \"Authorization: Bearer \$DEMO_TOKEN\" $url'"
out=$("$keyhole" run -- sh -c "curl -sS -w ' (HTTP %{http_code})' -H \"Authorization: Bearer \$DEMO_TOKEN\" $url")
echo "$out"
[[ $out == *"HTTP 200"* ]] || { echo "demo FAILED: expected 200" >&2; exit 1; }

step "4. What the workload holds: a placeholder and a proxy password, never the secret"
env_out=$("$keyhole" run -- env)
grep -E '^(DEMO_TOKEN|HTTPS_PROXY|SSL_CERT_FILE)=' <<<"$env_out" | sed -E 's/(keyhole:)[0-9a-f]{8}[0-9a-f]*/\1<session>/'
if grep -qF "$secret" <<<"$env_out"; then echo "demo FAILED: the secret is in the environment" >&2; exit 1; fi
echo "the real secret appears in the environment: no"

step "5. A placeholder sent to a host it is not scoped to is refused (403), nothing sent"
echo "keyhole run -- sh -c 'curl -sS -H \"Authorization: Bearer \$DEMO_TOKEN\" http://other.keyhole.test:$plain/bearer/demo'"
"$keyhole" run -- sh -c "curl -sS -w '(HTTP %{http_code})\n' -H \"Authorization: Bearer \$DEMO_TOKEN\" http://other.keyhole.test:$plain/bearer/demo" || true

step "6. The audit log"
"$keyhole" log
echo
echo "demo OK"
