# keyhole — convenience targets. The README's two commands are scripts/install-deps.sh + demo, and scripts/test.sh.
.PHONY: build release test demo bench clean

build:
	swift build

release:
	swift build -c release

test:
	scripts/test.sh

demo: release
	scripts/demo.sh

bench: release
	scripts/bench/run.sh

clean:
	rm -rf .build
