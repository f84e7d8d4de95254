#!/usr/bin/env bash
# Install the Debian packages balis needs (Zebra, YAZ, PostgreSQL, Python venv support); does nothing when present.
set -euo pipefail
need=()
command -v zebrasrv >/dev/null 2>&1 || need+=(idzebra-2.0)
command -v yaz-client >/dev/null 2>&1 || need+=(yaz)
command -v yaz-ztest >/dev/null 2>&1 || need+=(yaz)
command -v chromium >/dev/null 2>&1 || need+=(chromium)  # the portal's browser tests (Playwright drives it)
[ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || need+=(fonts-noto-cjk)  # Chinese in screenshots
# PostgreSQL server binaries: the ILL store's tests start a private cluster (initdb) on loopback
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
# RUM index access method for the union index in PostgreSQL (docs/decisions/0009-union-index-postgresql.md)
compgen -G '/usr/share/postgresql/*/extension/rum.control' >/dev/null || need+=(postgresql-15-rum)
# fuzzystrmatch (contrib) for the union index's spelling suggestions: Debian ships it in postgresql-15 itself
compgen -G '/usr/share/postgresql/*/extension/fuzzystrmatch.control' >/dev/null || need+=(postgresql-contrib)
python3 -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null || need+=(python3)
python3 -m venv --help >/dev/null 2>&1 || need+=(python3-venv)
python3 -c 'import ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "balis needs these Debian packages: ${need[*]}; run 'sudo make deps' or install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "installed: ${need[*]}"
