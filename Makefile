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

# A self-contained binary (musl, static libseccomp) to copy into container images:
# target/static/x86_64-unknown-linux-musl/release/syscage. musl, not static glibc: glibc's
# start-up probes the caches with cpuid, each a trap to the hypervisor on a VM (0.6 ms per exec
# here, more than the rest of a `run` start). Debian's libseccomp.a is linked from a directory
# of its own, so that the linker cannot take glibc's libc.a from beside it.
STATIC_TARGET := x86_64-unknown-linux-musl
STATIC_LIBS := target/static/libseccomp
STATIC_ENV := LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH=$(CURDIR)/$(STATIC_LIBS)
$(STATIC_LIBS)/libseccomp.a: /usr/lib/x86_64-linux-gnu/libseccomp.a
	mkdir -p $(STATIC_LIBS)
	cp /usr/lib/x86_64-linux-gnu/libseccomp.a $@
static:
	./scripts/install-deps.sh build
	$(MAKE) $(STATIC_LIBS)/libseccomp.a
	$(STATIC_ENV) cargo build --release --target $(STATIC_TARGET) --target-dir target/static

# The same, unoptimised, for the entrypoint tests (which run it inside a busybox container).
static-test:
	./scripts/install-deps.sh build
	$(MAKE) $(STATIC_LIBS)/libseccomp.a
	$(STATIC_ENV) cargo build --bin syscage --target $(STATIC_TARGET) --target-dir target/static

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
# The self-contained build is the one installed: it starts in a fraction of the dynamic build's
# time (no loader, no glibc cache probe) and needs no libseccomp at run time.
SYSCAGE_INSTALL ?= target/static/$(STATIC_TARGET)/release/syscage
install: static
	./scripts/install.sh $(SYSCAGE_INSTALL) "$(DESTDIR)" "$(PREFIX)"

clean:
	cargo clean
