#!/usr/bin/env bash
# Builds Hearth's Linux tarball with `fyne package`:
#
#   packaging/package-linux.sh [OUTDIR]     (default: dist/)
#
# writes OUTDIR/hearth-<version>-linux-<arch>.tar.xz. Inside is fyne's
# layout: hearth/Makefile and hearth/usr/…; install it with
#   tar -xJf hearth-*.tar.xz && make -C hearth user-install        (~/.local)
#   tar -xJf hearth-*.tar.xz && sudo make -C hearth install        (/usr/local)
#
# The version comes from FyneApp.toml and is linked into `hearth version`.
# The fyne CLI is fyne.io/tools v1.7.4, run with `go run` (the module cache
# keeps it for offline use); set FYNE to use another fyne binary.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mkdir -p "${1:-$root/dist}" && cd "${1:-$root/dist}" && pwd)"
cd "$root"

version="$(sed -n 's/^Version *= *"\(.*\)"/\1/p' FyneApp.toml)"
[ -n "$version" ] || { echo "package-linux: no Version in FyneApp.toml" >&2; exit 1; }
arch="$(go env GOARCH)"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "package-linux: building hearth $version ($arch)"
go build -trimpath -ldflags "-s -w -X github.com/hearth-p2p/hearth/node/runtime/cli.Version=$version" \
  -o "$tmp/src/hearth" .

# fyne package reads FyneApp.toml from its source folder and bumps its
# Build number there; stage a copy so the repository is left untouched.
mkdir -p "$tmp/src/assets"
cp FyneApp.toml main.go "$tmp/src/"
cp assets/hearth-512.png "$tmp/src/assets/"

fyne=(${FYNE:-go run fyne.io/tools/cmd/fyne@v1.7.4})
(cd "$tmp/src" && "${fyne[@]}" package -os linux -executable hearth)

tarball="$out/hearth-$version-linux-$arch.tar.xz"
mv "$tmp/src/Hearth.tar.xz" "$tarball"
echo "package-linux: wrote $tarball"
