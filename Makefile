# keyhole — convenience targets. The README's two commands are scripts/install-deps.sh + demo, and scripts/test.sh.
.PHONY: build release test demo bench clean

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

clean:
	rm -rf .build
