#!/usr/bin/env bash
# Install PostgreSQL 15 and build pgvector from Debian's source package, once per machine.
# Skips everything that is already there, so `make test` pays this only on a new machine.
# pgvector is not packaged for this Debian release: we build Debian's own trixie source.
set -euo pipefail
PG_BIN=/usr/lib/postgresql/15/bin
EXT_DIR=/usr/share/postgresql/15/extension
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

if [ ! -x "$PG_BIN/postgres" ] || [ ! -f "$EXT_DIR/ltree.control" ] \
   || { [ ! -f "$EXT_DIR/vector.control" ] && [ ! -f /usr/include/postgresql/15/server/postgres.h ]; }; then
  echo "setup-postgres: installing PostgreSQL 15 (server, contrib, headers)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    postgresql-15 postgresql-contrib-15 postgresql-server-dev-15 dpkg-dev >/dev/null
fi

if [ ! -f "$EXT_DIR/vector.control" ]; then
  echo "setup-postgres: building pgvector from Debian's source package"
  if ! grep -rqs "trixie" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb-src http://deb.debian.org/debian trixie main" | $SUDO tee /etc/apt/sources.list.d/plait-trixie-src.list >/dev/null
  fi
  $SUDO apt-get update -qq
  command -v dpkg-source >/dev/null || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dpkg-dev >/dev/null
  work=$(mktemp -d)
  (cd "$work" && apt-get source -qq pgvector >/dev/null 2>&1 && cd pgvector-*/ \
    && make -s PG_CONFIG="$PG_BIN/pg_config" >/dev/null \
    && $SUDO make -s PG_CONFIG="$PG_BIN/pg_config" install >/dev/null)
  rm -rf "$work"
fi
test -f "$EXT_DIR/vector.control" && echo "setup-postgres: PostgreSQL 15 with pgvector and ltree ready"
