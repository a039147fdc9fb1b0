#!/bin/sh
# Usage: scripts/cgroup2-ns.sh CMD [ARGS...]
# Runs CMD in a private mount namespace whose /sys/fs/cgroup is a pure cgroup2 mount, so that
# crun (and podman, which runs crun) start on hosts with hybrid cgroups (v1 controllers plus a
# v2 mount holding a controller), which crun refuses outright ("cgroups in hybrid mode not
# supported"). Nothing on the host changes: the namespace and its mount die with CMD. Pair it
# with `crun --cgroup-manager=disabled` / `podman --cgroups=disabled`: the runtime then makes
# no cgroup of its own. Where /sys/fs/cgroup already is cgroup2, CMD runs as it is.
set -eu
[ $# -gt 0 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
if [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
  exec "$@"
fi
# unshare makes every mount of the new namespace private, so the umount below stays in it.
exec unshare --mount sh -c 'umount -l /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec "$@"' sh "$@"
