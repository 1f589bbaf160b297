#!/usr/bin/env bash
# Install the independent protocol clients the interop tests run in their own processes:
# mbpoll (Debian's C Modbus master) and node-opcua-client (npm, pinned in
# tests/interop/node/package-lock.json). Called by `make test`; idempotent and quick when
# everything is there. It never aborts the test run: when a client cannot be installed it says
# what to install, and the tests that need it fail at once with the same words.
set -uo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
NODE_DIR=tests/interop/node
status=0

say() { printf 'test-tools: %s\n' "$*" >&2; }

# as_root SECONDS COMMAND...: run COMMAND as root (directly, or by sudo without a password).
as_root() {
    local limit=$1; shift
    if [ "$(id -u)" -eq 0 ]; then timeout "$limit" "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo -n timeout "$limit" "$@"
    else return 1
    fi
}

apt_updated=0
apt_install() {
    command -v apt-get >/dev/null 2>&1 || return 1
    if [ "$apt_updated" -eq 0 ]; then
        as_root 300 apt-get update -qq || return 1
        apt_updated=1
    fi
    as_root 600 apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v mbpoll >/dev/null 2>&1; then
    say "installing mbpoll (Debian package) for the Modbus interop tests"
    apt_install mbpoll || { say "could not install mbpoll: run 'apt-get install mbpoll'"; status=1; }
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    say "installing Node.js and npm (Debian packages) for the OPC UA interop tests"
    apt_install nodejs npm || { say "could not install Node.js: install Node.js >= 18 and npm"; status=1; }
fi

# npm ci again whenever the lock file is newer than what node_modules was built from.
stamp="$NODE_DIR/node_modules/.package-lock.json"
if command -v npm >/dev/null 2>&1 && { [ ! -f "$stamp" ] || [ "$NODE_DIR/package-lock.json" -nt "$stamp" ]; }; then
    say "installing node-opcua-client (npm ci in $NODE_DIR)"
    (cd "$NODE_DIR" && timeout 600 npm ci --no-audit --no-fund --loglevel=error) \
        || { say "npm ci failed: run 'npm ci' in $NODE_DIR"; status=1; }
fi

[ "$status" -eq 0 ] && say "mbpoll, node and node-opcua-client are installed"
exit 0
