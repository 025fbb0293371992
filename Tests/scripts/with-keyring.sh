#!/bin/sh
# Runs a command against a real gnome-keyring, headless, on a private D-Bus session bus:
#
#   Tests/scripts/with-keyring.sh swift test --skip-build --filter KeyholeStoreTests
#
# The keyring daemon gets a fresh temporary HOME, XDG_DATA_HOME and XDG_RUNTIME_DIR (so do services the bus
# activates), and creates a new login keyring, unlocked with the password $KEYHOLE_TEST_KEYRING_PASSWORD
# (default "keyhole-test"), which is the default collection. The command keeps the caller's HOME and gets
# DBUS_SESSION_BUS_ADDRESS, KEYHOLE_TEST_KEYRING=1, KEYHOLE_TEST_KEYRING_PASSWORD and KEYHOLE_TEST_KEYRING_DIR.
# The bus, the keyring daemon and the directory are gone when the command ends; its exit status is passed on.
#
# Inside such a run, two helpers change the keyring's state (for tests of the locked case):
#   with-keyring.sh --lock      locks the default collection
#   with-keyring.sh --unlock    unlocks it again without a prompt (needs python3-dbus)
#
# Needs: dbus-run-session (dbus), gnome-keyring-daemon (gnome-keyring), gdbus (libglib2.0-bin).
set -eu

script=$0
password=${KEYHOLE_TEST_KEYRING_PASSWORD:-keyhole-test}

secrets_call() {
    gdbus call --session --dest org.freedesktop.secrets --object-path "$@"
}

default_collection() {
    # Prints the object path of the default collection, e.g. /org/freedesktop/secrets/collection/login.
    secrets_call /org/freedesktop/secrets --method org.freedesktop.Secret.Service.ReadAlias default |
        sed -n "s/^(objectpath '\([^']*\)',)\$/\1/p"
}

default_locked() {
    # Prints true or false.
    secrets_call "$(default_collection)" --method org.freedesktop.DBus.Properties.Get \
        org.freedesktop.Secret.Collection Locked | sed -n 's/^(<\(true\|false\)>,)$/\1/p'
}

need_bus() {
    if [ "${KEYHOLE_TEST_KEYRING:-}" != 1 ] || [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
        echo "with-keyring.sh $1: only inside a with-keyring.sh run" >&2
        exit 2
    fi
}

case "${1:-}" in
"")
    echo "usage: $script COMMAND [ARGS...] | --lock | --unlock" >&2
    exit 2
    ;;
--lock)
    need_bus --lock
    collection=$(default_collection)
    secrets_call /org/freedesktop/secrets --method org.freedesktop.Secret.Service.Lock "['$collection']" >/dev/null
    [ "$(default_locked)" = true ] || { echo "with-keyring.sh --lock: $collection did not lock" >&2; exit 1; }
    exit 0
    ;;
--unlock)
    need_bus --unlock
    # Unlock goes through gnome-keyring's internal interface with a plain session: the Secret Service's own
    # Unlock would show a prompt, which cannot work headless. The session belongs to this one connection.
    KEYHOLE_TEST_KEYRING_PASSWORD=$password /usr/bin/python3 - <<'PYTHON'
import os
import dbus

bus = dbus.SessionBus()
service = bus.get_object("org.freedesktop.secrets", "/org/freedesktop/secrets")
secret_service = dbus.Interface(service, "org.freedesktop.Secret.Service")
_, session = secret_service.OpenSession("plain", dbus.String("", variant_level=1))
collection = secret_service.ReadAlias("default")
password = os.environ["KEYHOLE_TEST_KEYRING_PASSWORD"].encode()
secret = dbus.Struct((session, dbus.ByteArray(b""), dbus.ByteArray(password), "text/plain"), signature="oayays")
internal = dbus.Interface(service, "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface")
internal.UnlockWithMasterPassword(collection, secret)
PYTHON
    if [ "$(default_locked)" != false ]; then
        echo "with-keyring.sh --unlock: the default collection is still locked" >&2
        exit 1
    fi
    exit 0
    ;;
esac

if [ -z "${KEYHOLE_TEST_KEYRING_INNER:-}" ]; then
    # Outside: make the directory and a private session bus, and run this script again inside it.
    for tool in dbus-run-session gnome-keyring-daemon gdbus dbus-update-activation-environment; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "with-keyring.sh: $tool not found (Debian: apt install dbus gnome-keyring libglib2.0-bin)" >&2
            exit 127
        fi
    done
    dir=$(mktemp -d "${TMPDIR:-/tmp}/keyhole-keyring.XXXXXX")
    trap 'rm -rf "$dir"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    status=0
    KEYHOLE_TEST_KEYRING_INNER=1 KEYHOLE_TEST_KEYRING_DIR=$dir dbus-run-session -- "$script" "$@" || status=$?
    exit "$status"
fi

# Inside the private bus.
unset KEYHOLE_TEST_KEYRING_INNER
dir=$KEYHOLE_TEST_KEYRING_DIR
mkdir -m 0700 "$dir/home" "$dir/data" "$dir/run"
# Whatever the bus starts on demand (a keyring daemon, the prompter) must use the private directories too,
# never the caller's real keyring.
dbus-update-activation-environment HOME="$dir/home" XDG_DATA_HOME="$dir/data" XDG_RUNTIME_DIR="$dir/run" \
    DISPLAY= WAYLAND_DISPLAY=

# --unlock reads the password from stdin and creates the login keyring with it; the daemon then forks off
# and claims org.freedesktop.secrets on this bus. It prints variables to export (if any).
printf %s "$password" |
    env HOME="$dir/home" XDG_DATA_HOME="$dir/data" XDG_RUNTIME_DIR="$dir/run" \
        gnome-keyring-daemon --unlock --components=secrets >"$dir/keyring.env"
while IFS= read -r line; do
    case "$line" in
    [A-Z_]*=*) export "$line" ;;
    esac
done <"$dir/keyring.env"

name_owned() {
    # Asks the bus itself, so nothing gets activated while the daemon is still starting.
    gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
        --method org.freedesktop.DBus.NameHasOwner org.freedesktop.secrets 2>/dev/null | grep -q true
}

tries=0
until name_owned && [ "$(default_locked 2>/dev/null)" = false ]; do
    tries=$((tries + 1))
    if [ "$tries" -gt 100 ]; then
        echo "with-keyring.sh: gnome-keyring did not come up with an unlocked default collection" >&2
        exit 1
    fi
    sleep 0.1
done

export KEYHOLE_TEST_KEYRING=1 KEYHOLE_TEST_KEYRING_PASSWORD="$password" KEYHOLE_TEST_KEYRING_DIR="$dir"
exec "$@"
