#!/usr/bin/env bash
# Installs or removes keyhole (what `make install` and `make uninstall` run). Safe to run again.
#
#   scripts/install.sh install      build (release) and install
#   scripts/install.sh uninstall    remove what install put there; your credentials, CA and wrappers stay
#
# Settings (environment):
#   PREFIX=~/.local        where to install: PREFIX/bin, PREFIX/share/...
#   KEYHOLE_BIN=PATH       install this already built binary instead of building
#   SKIP_BUILD=1           install .build/release/keyhole as it is, without building
#   SYSTEMD_USER_DIR=DIR   where keyhole.service goes (default: a directory `systemd --user` reads, see below)
#   DESTDIR=DIR            stage everything under DIR (for packagers); the files still name PREFIX
#   MANUAL=auto|plugin|script   how the man pages are made (see generate_manual)
#
# Example: make release && sudo make install PREFIX=/usr/local SKIP_BUILD=1
set -euo pipefail
cd "$(dirname "$0")/.."

action=${1:-install}
PREFIX=${PREFIX:-$HOME/.local}
PREFIX=${PREFIX%/}
DESTDIR=${DESTDIR:-}
HELPERS=(git-credential-keyhole docker-credential-keyhole)
SHELLS=(bash zsh fish)

say() { printf 'keyhole: %s\n' "$*"; }
fail() {
    printf 'keyhole: error: %s\n' "$1" >&2
    [[ -n "${2:-}" ]] && printf '  hint: %s\n' "$2" >&2
    exit 1
}

[[ "$PREFIX" == /* ]] ||
    fail "PREFIX must be an absolute path (it is '$PREFIX')" "e.g. make install PREFIX=\$HOME/.local"

# The user unit goes where `systemd --user` looks (systemd.unit(5), "User Unit Search Path"): for a home prefix
# $XDG_DATA_HOME/systemd/user, for /usr and /usr/local PREFIX/lib/systemd/user. Elsewhere PREFIX/lib/systemd/user,
# which systemd reads only after `systemctl --user link`.
unit_dir() {
    if [[ -n "${SYSTEMD_USER_DIR:-}" ]]; then
        printf '%s' "${SYSTEMD_USER_DIR%/}"
    elif [[ "$PREFIX" == "$HOME/.local" ]]; then
        local data=${XDG_DATA_HOME:-}
        [[ "$data" == /* ]] || data=$HOME/.local/share
        printf '%s' "$data/systemd/user"
    else
        printf '%s' "$PREFIX/lib/systemd/user"
    fi
}

unit_is_searched() {
    local dir=$1 data=${XDG_DATA_HOME:-} config=${XDG_CONFIG_HOME:-}
    [[ "$data" == /* ]] || data=$HOME/.local/share
    [[ "$config" == /* ]] || config=$HOME/.config
    case "$dir" in
        "$config/systemd/user" | "$data/systemd/user" | /etc/systemd/user | /usr/lib/systemd/user | \
            /usr/local/lib/systemd/user | /usr/share/systemd/user | /usr/local/share/systemd/user) return 0 ;;
    esac
    return 1
}

BIN=$PREFIX/bin
SHELLDIR=$PREFIX/share/keyhole/shell
BASHCOMP=$PREFIX/share/bash-completion/completions/keyhole
ZSHCOMP=$PREFIX/share/zsh/site-functions/_keyhole
FISHCOMP=$PREFIX/share/fish/vendor_completions.d/keyhole.fish
MANDIR=$PREFIX/share/man/man1
UNITDIR=$(unit_dir)
UNIT=$UNITDIR/keyhole.service

# Writes stdin to DESTDIR+$1 (mode $2) through a temporary file, so a reader never sees half a file.
put() {
    local target=$DESTDIR$1 mode=$2
    mkdir -p "$(dirname "$target")"
    local temporary
    temporary=$(mktemp "$(dirname "$target")/.keyhole-install.XXXXXX")
    cat >"$temporary"
    chmod "$mode" "$temporary"
    mv -f "$temporary" "$target"
}

source_binary() {
    if [[ -n "${KEYHOLE_BIN:-}" ]]; then
        [[ -x "$KEYHOLE_BIN" ]] || fail "KEYHOLE_BIN=$KEYHOLE_BIN is not an executable file" "build it first (swift build)"
        printf '%s' "$KEYHOLE_BIN"
        return
    fi
    if [[ -z "${SKIP_BUILD:-}" ]]; then
        say "building the release binary (swift build -c release); SKIP_BUILD=1 skips this" >&2
        swift build -c release >&2 || fail "the release build failed" "run \`swift build -c release\` to see why"
    fi
    [[ -x .build/release/keyhole ]] || fail "no .build/release/keyhole to install" "run \`make release\` first"
    printf '%s' "$PWD/.build/release/keyhole"
}

install_all() {
    local binary
    binary=$(source_binary)
    # The binary: copied beside the old one and renamed over it, so running copies keep working.
    put "$BIN/keyhole" 0755 <"$binary"
    for helper in "${HELPERS[@]}"; do
        ln -sfn keyhole "$DESTDIR$BIN/$helper"
    done
    for shell in "${SHELLS[@]}"; do
        put "$SHELLDIR/keyhole.$shell" 0644 <"shell/keyhole.$shell"
    done
    "$binary" --generate-completion-script bash | put "$BASHCOMP" 0644
    "$binary" --generate-completion-script zsh | put "$ZSHCOMP" 0644
    "$binary" --generate-completion-script fish | put "$FISHCOMP" 0644
    local pages
    pages=$(mktemp -d)
    if ! generate_manual "$binary" "$pages"; then
        rm -rf "$pages"
        fail "could not generate the man pages" "MANUAL=script uses scripts/generate-manual.py (python3) instead"
    fi
    for page in "$pages"/*.1; do
        put "$MANDIR/$(basename "$page")" 0644 <"$page"
    done
    rm -rf "$pages"
    unit_file | put "$UNIT" 0644

    say "installed keyhole in $PREFIX"
    say "  binary:       $BIN/keyhole (and ${HELPERS[*]})"
    say "  shell:        $SHELLDIR/keyhole.{bash,zsh,fish}, completions, man keyhole"
    say "  user service: $UNIT"
    if [[ -z "$DESTDIR" ]]; then
        case ":$PATH:" in
            *":$BIN:"*) ;;
            *) say "note: $BIN is not on PATH; add it (e.g. in ~/.profile: PATH=\"$BIN:\$PATH\")" ;;
        esac
        if unit_is_searched "$UNITDIR"; then
            command -v systemctl >/dev/null 2>&1 && systemctl --user daemon-reload >/dev/null 2>&1 || true
            say "next: eval \"\$(keyhole shell-init bash)\" in ~/.bashrc; optionally systemctl --user enable --now keyhole"
        else
            say "next: eval \"\$(keyhole shell-init bash)\" in ~/.bashrc; systemd --user does not read $UNITDIR:"
            say "  systemctl --user link $UNIT (then enable --now keyhole) if you want it to start the daemon"
        fi
    fi
}

# The man pages, from the command definitions of the binary being installed: keyhole.1 and keyhole-SUBCOMMAND.1.
# MANUAL=plugin uses swift-argument-parser's generate-manual tool (what `swift package plugin generate-manual`
# runs), built once into .build; MANUAL=script uses scripts/generate-manual.py (python3 only: for a root install
# from someone else's checkout, or without swift). The default, auto, prefers the plugin's tool.
generate_manual() {
    local binary=$1 out=$2 mode=${MANUAL:-auto} tool=""
    if [[ "$mode" != script ]] && command -v swift >/dev/null 2>&1 && { [[ ! -e .build ]] || [[ -O .build ]]; }; then
        tool="$(swift build --show-bin-path 2>/dev/null)/generate-manual-tool"
        if [[ ! -x "$tool" ]]; then
            say "building swift-argument-parser's generate-manual tool (once)" >&2
            swift package plugin generate-manual --help >/dev/null 2>&1 || tool=""
        fi
    fi
    if [[ -x "$tool" ]]; then
        local raw
        raw=$(mktemp -d)
        "$tool" "$binary" --multi-page --output-directory "$raw" || { rm -rf "$raw"; return 1; }
        for page in "$raw"/*.1; do
            local name
            name=$(basename "$page" .1)
            [[ "$name" == keyhole.help ]] && continue
            mv "$page" "$out/${name//./-}.1"
        done
        rm -rf "$raw"
        return 0
    fi
    if [[ "$mode" == plugin ]]; then
        printf 'keyhole: error: swift-argument-parser'"'"'s generate-manual tool could not be built\n' >&2
        return 1
    fi
    python3 scripts/generate-manual.py "$binary" "$out"
}

unit_file() {
    cat <<EOF
# keyhole's daemon as a systemd user service, installed by \`make install\`. Optional: any keyhole command starts
# the daemon when none runs. To have systemd start it instead: systemctl --user enable --now keyhole
[Unit]
Description=keyhole: credentials for programs that never hold them
Documentation=man:keyhole(1) man:keyhole-daemon(1)

[Service]
Type=simple
ExecStart=$BIN/keyhole daemon
Restart=on-failure
RestartSec=2

[Install]
WantedBy=default.target
EOF
}

uninstall_all() {
    local removed=0
    remove() {
        if [[ -e "$DESTDIR$1" || -L "$DESTDIR$1" ]]; then
            rm -f "$DESTDIR$1"
            removed=$((removed + 1))
        fi
    }
    local wrapped=""
    if [[ -x "$DESTDIR$BIN/keyhole" ]]; then
        wrapped=$("$DESTDIR$BIN/keyhole" wrap --list --json 2>/dev/null | grep -c '"name"' || true)
    fi
    remove "$BIN/keyhole"
    for helper in "${HELPERS[@]}"; do
        if [[ -L "$DESTDIR$BIN/$helper" ]]; then remove "$BIN/$helper"; fi
    done
    for shell in "${SHELLS[@]}"; do remove "$SHELLDIR/keyhole.$shell"; done
    remove "$BASHCOMP"
    remove "$ZSHCOMP"
    remove "$FISHCOMP"
    for page in "$DESTDIR$MANDIR"/keyhole.1 "$DESTDIR$MANDIR"/keyhole-*.1; do
        if [[ -e "$page" ]]; then remove "${page#"$DESTDIR"}"; fi
    done
    remove "$UNIT"
    # Directories only keyhole used, when empty now (PREFIX/share/keyhole may be your data directory: kept).
    rmdir "$DESTDIR$SHELLDIR" 2>/dev/null || true
    rmdir "$DESTDIR$PREFIX/share/keyhole" 2>/dev/null || true
    say "removed $removed files from $PREFIX"
    say "kept your credentials, CA, logs and config (~/.config/keyhole, ~/.local/share/keyhole, ~/.local/state/keyhole)"
    if [[ -n "$wrapped" && "$wrapped" != 0 ]]; then
        local data=${XDG_DATA_HOME:-}
        [[ "$data" == /* ]] || data=$HOME/.local/share
        say "note: your $wrapped wrapped commands keep their wrappers, which now run them without keyhole (with a"
        say "  warning): delete $data/keyhole/bin (and ~/.config/keyhole/wrapped) if you are done with keyhole"
    fi
}

case "$action" in
    install) install_all ;;
    uninstall) uninstall_all ;;
    *) fail "unknown action '$action'" "scripts/install.sh install|uninstall (PREFIX=... KEYHOLE_BIN=... SKIP_BUILD=1)" ;;
esac
