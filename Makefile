# syscage: `make demo` shows it working, `make test` runs every test.
SYSCAGE := target/release/syscage

.PHONY: all build demo test lint bench deps clean

all: build

build:
	./scripts/install-deps.sh build
	cargo build --release

demo: build
	./scripts/demo.sh $(SYSCAGE)

# The whole suite: unit tests, integration tests against the real binary (some need root, as in
# CI), examples, and the lint gates.
test:
	./scripts/install-deps.sh test
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo test

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

bench: build
	./scripts/install-deps.sh bench
	./bench/run.sh $(SYSCAGE)

clean:
	cargo clean
