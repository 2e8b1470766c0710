#!/usr/bin/env bash
# The contract gate: fails when proto/everynode/v1 has a breaking change against the contract as
# committed, i.e. the buf image proto/everynode-v1.binpb (buf's FILE rules, from proto/buf.yaml:
# no removed or renumbered fields, no changed types, no renamed or removed RPCs or services, no
# changed streaming, no changed packages, …). Called by scripts/test.
#
#   scripts/lib/contract.sh            check: `buf breaking proto --against proto/everynode-v1.binpb`
#   scripts/lib/contract.sh --update   rebuild the image from the current contract
#
# Changing the contract deliberately (a new field, RPC or message is not breaking and needs no
# update; a breaking change needs a reason good enough for every client):
#   1. edit proto/everynode/v1/*.proto; `(cd proto && buf lint)`;
#   2. `scripts/lib/contract.sh` shows what breaks; if that is really intended,
#   3. `scripts/lib/contract.sh --update` and commit proto/everynode-v1.binpb together with the
#      .proto change, saying in the commit message what breaks and why.
# Also refresh the image after additive changes, so the next check compares against them.
#
# The image is built without source info (small, and stable across comment edits); it holds the
# everynode.v1 files and the google/protobuf imports they use.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IMAGE=everynode-v1.binpb

BUF=${BUF:-}
if [ -z "$BUF" ]; then
  if [ -x "$ROOT/.tools/venv/bin/buf" ]; then
    BUF="$ROOT/.tools/venv/bin/buf"
  elif command -v buf >/dev/null; then
    BUF=buf
  else
    printf 'error: buf not found; run scripts/test (it installs buf into .tools/venv)\n' >&2
    exit 1
  fi
fi

cd "$ROOT"
case "${1:-}" in
  --update)
    (cd proto && "$BUF" build --exclude-source-info -o "$IMAGE")
    printf '==> wrote proto/%s from the current contract; commit it with the .proto change\n' \
      "$IMAGE" >&2
    ;;
  "")
    [ -f "proto/$IMAGE" ] || {
      printf 'error: proto/%s is missing; create it with scripts/lib/contract.sh --update\n' \
        "$IMAGE" >&2
      exit 1
    }
    if ! "$BUF" breaking proto --against "proto/$IMAGE"; then
      printf 'error: breaking change to the everynode.v1 contract (see above).\n' >&2
      printf '  If intended: scripts/lib/contract.sh --update, and commit proto/%s.\n' \
        "$IMAGE" >&2
      exit 1
    fi
    ;;
  -h | --help)
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    ;;
  *)
    printf 'usage: scripts/lib/contract.sh [--update]\n' >&2
    exit 2
    ;;
esac
