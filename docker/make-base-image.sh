#!/usr/bin/env bash
# Makes the local base images node:20-bookworm and node:20-bookworm-slim (the Dockerfiles' FROM)
# for podman on machines that cannot pull from a registry: a Debian bookworm minbase root
# filesystem from the mirror apt is configured with, plus this host's Node 20 and npm.
# Run as root. Installs podman, runc and debootstrap with apt-get when they are missing.
#   docker/make-base-image.sh            make the images unless node:20-bookworm exists
#   docker/make-base-image.sh --force    make them again
set -euo pipefail

BASE=node:20-bookworm
SLIM=node:20-bookworm-slim
CA=/etc/ssl/certs/ca-certificates.crt

say() { echo "[make-base-image] $*"; }
die() { echo "[make-base-image] error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (debootstrap and podman import need it)"

missing=()
for tool in podman runc debootstrap; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get to install them"
  say "installing ${missing[*]} with apt-get"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y podman runc debootstrap
fi

if [ "${1:-}" != "--force" ] && podman image exists "$BASE"; then
  podman image exists "$SLIM" || podman tag "$BASE" "$SLIM"
  say "$BASE exists"
  exit 0
fi

for f in /usr/bin/node /usr/lib/node_modules/npm/bin/npm-cli.js /usr/include/node/node.h "$CA"; do
  [ -e "$f" ] || die "$f not found: this script copies the host's Node 20, npm, headers and CA bundle"
done
node_major=$(/usr/bin/node -p 'process.versions.node.split(".")[0]')
[ "$node_major" = 20 ] || die "the host's node is $node_major, not 20"

# The Debian mirrors apt uses here: deb822 .sources files or one-line .list files, the entries that
# carry the plain "bookworm" suite (not -security, not -updates).
mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
      { uris = ""; suite = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); uris = $i }
          if ($i ~ /^Suites:/ && $i ~ /[ \t]bookworm([ \t]|$)/) suite = 1
        }
        if (suite && uris != "") { split(uris, u, /[ \t]+/); print u[1] } }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) break
                       if ($(i + 1) == "bookworm") print $i }' "$f"
  done
}
# Prefer a URI ending in /debian (another vendor's repository may also carry a bookworm suite).
candidates=$(mirror)
MIRROR=$(echo "$candidates" | grep -m 1 -E '/debian/?$' || echo "$candidates" | head -n 1)
[ -n "$MIRROR" ] || die "no Debian bookworm mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d/"

work=$(mktemp -d /tmp/fedkd-base-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs

say "debootstrap bookworm minbase from $MIRROR"
started=$(date +%s)
debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" > "$work/debootstrap.log" 2>&1 ||
  { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
say "debootstrap took $(( $(date +%s) - started )) s"

say "adding the host's node $(/usr/bin/node --version), npm, headers and CA bundle"
install -m 0755 /usr/bin/node "$rootfs/usr/bin/node"
mkdir -p "$rootfs/usr/lib/node_modules" "$rootfs/usr/include" "$rootfs/usr/etc" "$rootfs/etc/ssl/certs"
cp -a /usr/lib/node_modules/npm "$rootfs/usr/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/bin/npx"
cp -a /usr/include/node "$rootfs/usr/include/node"
cp "$CA" "$rootfs$CA"
printf 'cafile=%s\nnodedir=/usr\nfund=false\naudit=false\nupdate-notifier=false\n' "$CA" > "$rootfs/usr/etc/npmrc"
# The official images' user: uid and gid 1000.
chroot "$rootfs" groupadd --gid 1000 node
chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log

say "importing as $BASE (tagged $SLIM too)"
tar -C "$rootfs" -cf "$work/base.tar" .
podman import --change "ENV NODE_EXTRA_CA_CERTS=$CA" --change 'CMD ["node"]' "$work/base.tar" "$BASE" > /dev/null
podman tag "$BASE" "$SLIM"
say "done: $(podman image inspect --format '{{.Size}}' "$BASE") bytes"
