#!/bin/sh
# Runs before each container's command (docker/Dockerfile's ENTRYPOINT).
#
# AF_PACKET sees frames as the sending kernel hands them to the veth: with
# checksum and segmentation offloads on, a Linux peer's TCP arrives with
# partial checksums and in frames up to 64 KB. Every container therefore turns
# them off on its own interface, so that frames leave it complete and MTU-sized
# (this needs CAP_NET_ADMIN). NETCHAN_OFFLOAD=on leaves them alone.
set -eu
iface="${NETCHAN_IFACE:-eth0}"
if [ "${NETCHAN_OFFLOAD:-off}" = "off" ]; then
    if ! ethtool -K "$iface" tx off tso off gso off gro off >/dev/null 2>&1; then
        echo "netchan-entrypoint: could not turn offloads off on $iface" \
             "(add cap_add: NET_ADMIN, or set NETCHAN_OFFLOAD=on)" >&2
    fi
fi
exec "$@"
