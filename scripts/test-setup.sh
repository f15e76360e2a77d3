#!/usr/bin/env bash
# Install and start what the tests use: Docker's engine (dockerd), Podman (its Docker-compatible
# API service), busybox-static for test images, a throwaway PostgreSQL server for the store
# tests. As root on Debian this installs with apt; otherwise it only checks.
set -euo pipefail

PACKAGES=(docker.io podman busybox-static docker-registry skopeo poppler-utils chromium openssl auditd
  openscap-scanner ssg-debian rootlesskit uidmap slirp4netns npm debootstrap postgresql openssh-server)

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v podman >/dev/null 2>&1 || missing+=(podman)
[ -x /bin/busybox ] || missing+=(busybox-static)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
command -v pdfsig >/dev/null 2>&1 || missing+=(poppler-utils)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v oscap >/dev/null 2>&1 || missing+=(openscap-scanner)
[ -d /usr/share/xml/scap/ssg/content ] || missing+=(ssg-debian)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
# sshd for the engine:ssh:// tests, which start their own on 127.0.0.1 (tests/sshd.py); Debian's
# policy-rc.d in containers keeps the package from starting a system one
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test-setup: installing ${missing[*]}"
    apt-get update -qq
    # no system sshd from openssh-server's install: a policy-rc.d (Debian's invoke-rc.d and
    # deb-systemd-invoke ask it) refusing the ssh service, unless one is there already
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      policy=/usr/sbin/policy-rc.d
      printf '#!/bin/sh\n# test-setup: no system sshd\n[ "$1" = ssh ] && exit 101\nexit 0\n' >"$policy"
      chmod 0755 "$policy"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PACKAGES[@]}" >/dev/null
    [ -z "$policy" ] || rm -f "$policy"
  else
    echo "test-setup: missing ${missing[*]} (run as root to install them)" >&2
  fi
fi

# Microsoft's SARIF multitool (its GitHub rules judge our SARIF as code scanning would), from the
# npm registry into build/tools; npm does not run the package's postinstall chmod, hence ours
MT=build/tools/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool
if [ ! -x "$MT" ] && command -v npm >/dev/null 2>&1; then
  echo "test-setup: installing @microsoft/sarif-multitool into build/tools"
  npm install --silent --no-audit --no-fund --prefix build/tools @microsoft/sarif-multitool@5.7.0
  chmod u+x "$MT"
fi

docker_cli() {
  if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else docker "$@"; fi
}

if command -v dockerd >/dev/null 2>&1 && ! docker_cli info >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "test-setup: starting dockerd"
    setsid dockerd >/tmp/assessor-dockerd.log 2>&1 </dev/null &
    for _ in $(seq 1 60); do
      docker_cli info >/dev/null 2>&1 && break
      sleep 0.5
    done
    docker_cli info >/dev/null 2>&1 || { echo "test-setup: dockerd did not start; see /tmp/assessor-dockerd.log" >&2; exit 1; }
  else
    echo "test-setup: dockerd is not running (run as root to start it)" >&2
  fi
fi
# PostgreSQL for the store tests (tests/conftest.py `pg_url`): a server of the tests' own, data
# in memory, reached only through a unix socket in PG_DIR, trust authentication, C.UTF-8 (byte
# order, as SQLite sorts text). Started once; later runs find it running and leave it.
PG_DIR=/run/assessor-test-pg
PG_BIN=$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -n 1 || true)
if [ -n "$PG_BIN" ] && ! "$PG_BIN/pg_isready" -q -h "$PG_DIR" 2>/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "test-setup: starting PostgreSQL ($PG_BIN) on $PG_DIR"
    mkdir -p "$PG_DIR" && chown postgres: "$PG_DIR" && chmod 0755 "$PG_DIR"
    if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
      rm -rf "$PG_DIR/data"
      runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust \
        -E UTF8 --locale=C.UTF-8 -N >"$PG_DIR/initdb.log"
    fi
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -s \
      -o "-k $PG_DIR -c listen_addresses= -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start || { echo "test-setup: PostgreSQL did not start; see $PG_DIR/log" >&2; exit 1; }
  else
    echo "test-setup: PostgreSQL is not running on $PG_DIR (run as root to start it)" >&2
  fi
fi
echo "test-setup: ready"
