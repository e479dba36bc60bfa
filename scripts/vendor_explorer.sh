#!/usr/bin/env bash
# Reproduce the explorer's vendored WebGL library: deck.gl's standalone bundle (dist.min.js, which
# carries its vis.gl dependencies: luma.gl, math.gl, loaders.gl, probe.gl, mjolnir.js; all MIT) and
# its licence, from the npm registry at the pinned version. The page loads it with a <script> tag.
set -euo pipefail
VERSION=${DECKGL_VERSION:-9.4.0}
here="$(cd "$(dirname "$0")/.." && pwd)"
target="$here/src/artsig/explorer_page/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "deck.gl@$VERSION" >/dev/null && tar xzf "deck.gl-$VERSION.tgz")
mkdir -p "$target"
rm -f "$target"/deck.gl-*.min.js
cp "$work/package/dist.min.js" "$target/deck.gl-$VERSION.min.js"
cp "$work/package/LICENSE" "$target/LICENSE-deck.gl.txt"
sha256sum "$target/deck.gl-$VERSION.min.js"
echo "vendored deck.gl $VERSION into $target (update the <script> tag in explorer_page/index.html if the version changed)"
