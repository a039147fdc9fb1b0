# syscage: `make demo` shows it working, `make test` runs every test.
SYSCAGE ?= target/release/syscage
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all build demo test lint bench fuzz static static-test install clean

all: build

build:
	./scripts/install-deps.sh build
	cargo build --release

demo: build
	./scripts/install-deps.sh demo
	./scripts/demo.sh $(SYSCAGE)

# The whole suite: unit tests, integration tests against the real binary (some need root, as in
# CI), examples, and the lint gates.
test: static-test
	./scripts/install-deps.sh test
	./scripts/fetch-arm64.sh target/arm64
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo test

# A self-contained binary (static glibc and libseccomp) to copy into container images:
# target/static/x86_64-unknown-linux-gnu/release/syscage.
STATIC_ENV := LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH=/usr/lib/x86_64-linux-gnu \
	RUSTFLAGS="-C target-feature=+crt-static"
static:
	./scripts/install-deps.sh build
	$(STATIC_ENV) cargo build --release --target x86_64-unknown-linux-gnu --target-dir target/static

# The same, unoptimised, for the entrypoint tests (which run it inside a busybox container).
static-test:
	./scripts/install-deps.sh build
	$(STATIC_ENV) cargo build --bin syscage --target x86_64-unknown-linux-gnu --target-dir target/static

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

bench: build static
	./scripts/install-deps.sh bench
	./bench/run.sh $(SYSCAGE)

# Coverage-guided fuzzing of the parsers (cargo fuzz; the stable toolchain is let in with
# RUSTC_BOOTSTRAP). New corpus entries land in fuzz/corpus, which `make test` replays.
FUZZ_SECONDS ?= 60
fuzz:
	./scripts/install-deps.sh build
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
	cd fuzz && for t in seccomp_profile recording landlock_ruleset hook_state agent_request analysis_cache engine_answer; do \
	  RUSTC_BOOTSTRAP=1 cargo fuzz run $$t corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) || exit 1; done
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run analyze_elf corpus/analyze_elf -- \
	  -max_total_time=$(FUZZ_SECONDS) -max_len=32768 -rss_limit_mb=2048 -timeout=20

# As a distribution package would: $(DESTDIR)$(PREFIX)/bin/syscage, man pages in
# share/man/man1, bash/zsh/fish completions, and the hooks.d files in share/containers/oci/hooks.d.
install: build
	./scripts/install.sh $(SYSCAGE) "$(DESTDIR)" "$(PREFIX)"

clean:
	cargo clean
