#!/bin/sh
# crun without cgroup management, whatever its caller asks for: what podman's runtime must be
# for `podman kube play` on hosts where crun cannot manage cgroups (hybrid hierarchies; root
# without CAP_SYS_RESOURCE, which crun's cgroup setup needs). podman 4.3 cannot disable
# cgroups for kube play itself, so the tests name this script as podman's runtime.
skip=0
for a in "$@"; do
  shift
  if [ "$skip" = 1 ]; then skip=0; continue; fi
  case "$a" in
    --cgroup-manager) skip=1; continue ;;
    --cgroup-manager=*|--systemd-cgroup) continue ;;
  esac
  set -- "$@" "$a"
done
exec crun --cgroup-manager=disabled "$@"
