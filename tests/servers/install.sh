#!/usr/bin/env bash
# Install the Debian packages the test servers need: Dovecot (IMAP), PostgreSQL 15, openssl, and
# Chromium for the console's browser tests (driven by Playwright; never `playwright install`).
#
# Idempotent: asks dpkg first and names only the packages that are missing, because
# `apt-get install` of an installed package upgrades it (pitfall P1 in the test-server notes).
# PostgreSQL is skipped when any /usr/lib/postgresql/*/bin/initdb exists.
# Runs apt-get directly as root, through sudo otherwise; fails with a clear message when
# neither is possible. Exit codes: 0 ok (or nothing to do), 1 cannot install.
set -euo pipefail

wanted=(dovecot-core dovecot-imapd openssl chromium)
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    wanted+=(postgresql-15)
fi

is_installed() {
    # dpkg-query prints "install ok installed" only for a fully installed package.
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

missing=()
for pkg in "${wanted[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install.sh: nothing to install (${wanted[*]} present)"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "install.sh: missing Debian packages: ${missing[*]}" >&2
    echo "install.sh: not root and sudo is not available; install them as root:" >&2
    echo "    apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

echo "install.sh: installing ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
