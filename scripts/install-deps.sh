#!/usr/bin/env bash
# Installs what keyhole needs on Debian 12 and is missing. `--test` adds what the test suite needs.
# Safe to run again: it installs only missing packages.
set -euo pipefail

packages=(libsecret-1-0 libsecret-1-dev gnome-keyring dbus libsecret-tools curl openssl ca-certificates python3 make)
if [[ "${1:-}" == "--test" ]]; then
    # zsh and fish: the shell integration is tested in the real shells; man-db renders the installed man pages.
    packages+=(libglib2.0-bin dbus-x11 python3-dbus git util-linux docker-registry apache2-utils skopeo zsh fish man-db)
    # Runtimes that Tests/EndToEnd/test_runtimes.py drives through keyhole (Node 24, deno and uv come from PyPI).
    packages+=(nodejs openjdk-17-jdk-headless golang-go ruby)
fi

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "keyhole: installing ${missing[*]}" >&2
    sudo_cmd=()
    [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ "${1:-}" == "--test" ]]; then
    python3 -m pip install -q --disable-pip-version-check -r "$(dirname "$0")/../Tests/EndToEnd/requirements.txt"
fi

if ! command -v swift >/dev/null 2>&1; then
    if [[ -x /opt/swift/usr/bin/swift ]]; then
        echo "keyhole: add /opt/swift/usr/bin to PATH" >&2
    else
        echo "keyhole: Swift 6.1 or newer is needed (https://www.swift.org/install/linux/)" >&2
        exit 1
    fi
fi
