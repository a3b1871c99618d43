#!/usr/bin/env bash
# vendor-js.sh refreshes the pinned JavaScript that the web UI embeds.
#
# It installs the pinned npm packages into a temporary directory, copies their
# minified builds to ui/static/vendor/ and records package, version, license
# and sha256 of each file in ui/static/vendor/VERSIONS. The product never needs
# npm at run time or test time: the copied files are committed.
#
# To upgrade, change a version below, run the script and commit the result.
set -euo pipefail

HTMX_VERSION=2.0.11
ALPINE_VERSION=3.17.5

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest="$root/ui/static/vendor"

command -v npm >/dev/null || { echo "vendor-js.sh: npm not found (install nodejs and npm)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

npm install --no-save --no-audit --no-fund --ignore-scripts --prefix "$tmp" \
	"htmx.org@$HTMX_VERSION" "alpinejs@$ALPINE_VERSION" >&2

mkdir -p "$dest"

# copy PACKAGE SRC DEST: copy one built file and print its VERSIONS line.
copy() {
	local pkg=$1 src=$2 out=$3
	local dir="$tmp/node_modules/$pkg"
	[[ -f "$dir/$src" ]] || { echo "vendor-js.sh: $pkg has no $src" >&2; exit 1; }
	local version license sum
	version=$(node -p "require(process.argv[1]).version" "$dir/package.json")
	license=$(node -p "require(process.argv[1]).license" "$dir/package.json")
	cp "$dir/$src" "$dest/$out"
	sum=$(sha256sum "$dest/$out" | cut -d' ' -f1)
	printf '%s\t%s\t%s\t%s\t%s\n' "$out" "$pkg" "$version" "$license" "$sum"
}

{
	echo "# Vendored JavaScript, written by scripts/vendor-js.sh; do not edit by hand."
	printf '# file\tpackage\tversion\tlicense\tsha256\n'
	copy htmx.org dist/htmx.min.js htmx.min.js
	copy alpinejs dist/cdn.min.js alpine.min.js
} >"$dest/VERSIONS.tmp"
mv "$dest/VERSIONS.tmp" "$dest/VERSIONS"

cat "$dest/VERSIONS"
