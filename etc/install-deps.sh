# shellcheck shell=bash
# The install steps that .ci/run and etc/demo.sh share, for a fresh
# Debian/Ubuntu machine (as root, or a user with sudo). Sourced, not run:
# each script calls the need_* functions for what it uses. Each installs
# only what is missing and otherwise says "already installed: ..." (nothing
# with DEPS_QUIET=1). A step that cannot complete exits the script with
# "error: ...".

# Debian puts mariadbd in /usr/sbin, which is not on every user's PATH;
# rustup puts cargo in ~/.cargo/bin, which a fresh shell may not have yet.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin:${CARGO_HOME:-$HOME/.cargo}/bin"

deps_have() {
    [ -n "${DEPS_QUIET:-}" ] || echo "already installed: $*"
}

deps_fail() {
    echo "error: $*" >&2
    exit 1
}

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        deps_fail "need root (or sudo) to run: $*"
    fi
}

# apt_install PACKAGE...: apt-get update (once per script run), then install.
apt_install() {
    echo "installing $* (apt-get)" >&2
    # Keep a packaged service (mariadb) from starting during the install:
    # nothing here uses it (the standard policy-rc.d switch; removed afterwards).
    local policy=/usr/sbin/policy-rc.d made_policy='' quiet=''
    [ -z "${DEPS_QUIET:-}" ] || quiet=-qq
    if [ ! -e "$policy" ]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
        made_policy=1
    fi
    # $quiet is empty or one flag: unquoted on purpose.
    # shellcheck disable=SC2086
    if [ -z "${DEPS_APT_UPDATED:-}" ]; then
        as_root apt-get update $quiet
        DEPS_APT_UPDATED=1
    fi
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y $quiet "$@"
    if [ -n "$made_policy" ]; then
        as_root rm -f "$policy"
    fi
}

have_mariadb() {
    local tool
    for tool in mariadbd mariadb mariadb-install-db mariadb-binlog; do
        command -v "$tool" >/dev/null 2>&1 || return 1
    done
}

# The MariaDB server and client tools (mariadbd, mariadb, mariadb-install-db,
# mariadb-binlog).
need_mariadb() {
    if have_mariadb; then
        deps_have "$(command -v mariadbd)"
        return
    fi
    apt_install mariadb-server mariadb-client
    have_mariadb || deps_fail "mariadbd or its tools still missing after apt-get install"
}

have_python_venv() {
    # Debian's python3 lacks ensurepip until python3-venv is installed.
    command -v python3 >/dev/null 2>&1 && python3 -c 'import venv, ensurepip' >/dev/null 2>&1
}

# python3 with a working venv module.
need_python_venv() {
    if have_python_venv; then
        deps_have "$(command -v python3)"
        return
    fi
    apt_install python3 python3-venv
    have_python_venv || deps_fail "python3 or its venv module still missing after apt-get install"
}

need_strace() {
    if command -v strace >/dev/null 2>&1; then
        deps_have "$(command -v strace)"
        return
    fi
    apt_install strace
    command -v strace >/dev/null 2>&1 || deps_fail "strace still missing after apt-get install"
}

# musl-gcc: ring (rustls' crypto) compiles C and assembly, and for the
# static x86_64-unknown-linux-musl build it needs the musl C compiler.
need_musl_tools() {
    if command -v musl-gcc >/dev/null 2>&1; then
        deps_have "$(command -v musl-gcc)"
        return
    fi
    apt_install musl-tools
    command -v musl-gcc >/dev/null 2>&1 || deps_fail "musl-gcc still missing after apt-get install"
}

# cargo and rustc on PATH, from rustup when missing: Debian's packaged rustc
# is older than the crate's rust-version (1.89). rustup installs for the
# current user into ${CARGO_HOME:-~/.cargo}; sourcing its env puts cargo on
# this script's PATH at once.
need_rust() {
    if command -v cargo >/dev/null 2>&1; then
        deps_have "$(command -v cargo)"
        return
    fi
    apt_install ca-certificates curl build-essential
    echo "installing the Rust toolchain (rustup, stable, minimal profile)" >&2
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    # shellcheck disable=SC1091
    . "${CARGO_HOME:-$HOME/.cargo}/env"
    command -v cargo >/dev/null 2>&1 || deps_fail "cargo still missing after the rustup install"
}

# Garage, a real S3-compatible object store (a crates.io package, built from
# source by cargo install), for the archive tier's tests
# (tests/it/common/garage.rs starts a single node per test). The build takes
# minutes, so it goes to a cache directory that survives between runs on the
# same machine ($GARAGE_ROOT, default ~/.cache/binlogserver/garage) and is
# skipped when the cached binary already has the pinned version.
GARAGE_VERSION=2.5.0
GARAGE_ROOT="${GARAGE_ROOT:-$HOME/.cache/binlogserver/garage}"

have_garage() {
    [ -x "$GARAGE_ROOT/bin/garage" ] &&
        "$GARAGE_ROOT/bin/garage" --version 2>/dev/null | grep -qw "v\?$GARAGE_VERSION"
}

need_garage() {
    if have_garage; then
        deps_have "$GARAGE_ROOT/bin/garage ($GARAGE_VERSION)"
        return
    fi
    echo "installing garage $GARAGE_VERSION into $GARAGE_ROOT (cargo install: about 35 minutes on 2 cores, once)" >&2
    cargo install garage --version "$GARAGE_VERSION" --locked --root "$GARAGE_ROOT"
    have_garage || deps_fail "$GARAGE_ROOT/bin/garage is not garage $GARAGE_VERSION after cargo install"
}
