# keyhole — convenience targets. The README's two commands are scripts/install-deps.sh + demo, and scripts/test.sh.
.PHONY: build release test demo bench clean install uninstall shell-sources

# `make install` puts keyhole under PREFIX (see scripts/install.sh): PREFIX=/usr/local for everyone (as root:
# `make release && sudo make install PREFIX=/usr/local SKIP_BUILD=1`), KEYHOLE_BIN=path for a built binary.
PREFIX ?= $(HOME)/.local

# The helpers git and registry clients look up by name are links to the one binary (it dispatches on argv[0]).
HELPERS = git-credential-keyhole docker-credential-keyhole

build:
	swift build
	@for helper in $(HELPERS); do ln -sf keyhole .build/debug/$$helper; done

release:
	swift build -c release
	@for helper in $(HELPERS); do ln -sf keyhole .build/release/$$helper; done

test:
	scripts/test.sh

demo: release
	scripts/demo.sh

bench: release
	scripts/bench/run.sh

install:
	PREFIX="$(PREFIX)" KEYHOLE_BIN="$(KEYHOLE_BIN)" SKIP_BUILD="$(SKIP_BUILD)" DESTDIR="$(DESTDIR)" MANUAL="$(MANUAL)" scripts/install.sh install

uninstall:
	PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" scripts/install.sh uninstall

# After editing shell/keyhole.{bash,zsh,fish}: embeds them in the binary (Sources/KeyholeCommands/ShellScripts.swift).
shell-sources:
	scripts/embed-shell.sh

clean:
	rm -rf .build
