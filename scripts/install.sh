#!/bin/sh
# Installs syscage as a distribution package would: the binary, its manual pages, bash/zsh/fish
# completions and the OCI hooks.d files (pointing at the installed binary).
# Usage: scripts/install.sh BINARY [DESTDIR] [PREFIX]   (make install calls it)
set -eu
BIN=$1
DESTDIR=${2:-}
PREFIX=${3:-/usr/local}
ROOT="$DESTDIR$PREFIX"
cd "$(dirname "$0")/.."
install -D -m 755 "$BIN" "$ROOT/bin/syscage"
install -d -m 755 "$ROOT/share/man/man1" "$ROOT/share/bash-completion/completions" \
  "$ROOT/share/zsh/site-functions" "$ROOT/share/fish/vendor_completions.d" \
  "$ROOT/share/containers/oci/hooks.d"
"$BIN" man --dir "$ROOT/share/man/man1"
chmod 644 "$ROOT"/share/man/man1/syscage*.1
"$BIN" completions bash > "$ROOT/share/bash-completion/completions/syscage"
"$BIN" completions zsh > "$ROOT/share/zsh/site-functions/_syscage"
"$BIN" completions fish > "$ROOT/share/fish/vendor_completions.d/syscage.fish"
# podman and CRI-O read $PREFIX/share/containers/oci/hooks.d when PREFIX is /usr; elsewhere
# point them at it (podman --hooks-dir, CRI-O hooks_dir).
for f in hooks/syscage-record.json hooks/syscage-trace-syscall.json; do
  sed "s|/usr/local/bin/syscage|$PREFIX/bin/syscage|" "$f" > "$ROOT/share/containers/oci/hooks.d/$(basename "$f")"
  chmod 644 "$ROOT/share/containers/oci/hooks.d/$(basename "$f")"
done
echo "installed syscage in $ROOT"
