#!/usr/bin/env bash
# System packages and test servers' dependencies the test suite needs, installed when missing.
# Called by scripts/test.sh. Each block checks before it installs, so re-running is cheap.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

apt_install() {
  # apt_install CHECK_COMMAND PACKAGE...: install Debian packages when CHECK_COMMAND is missing.
  local check=$1; shift
  command -v "$check" >/dev/null 2>&1 && return 0
  if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
    echo "missing '$check': install the Debian packages $* (needs root)" >&2
    return 1
  fi
  if [ ! -f /tmp/.aesp-apt-updated ]; then
    apt-get update -qq >/dev/null && touch /tmp/.aesp-apt-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# LDAP and SAML identity tests (tests/integration/identity): a real OpenLDAP slapd with the
# ldap-utils client tools, and xmlsec1, which pysaml2 calls to sign and verify XML.
apt_install slapd slapd ldap-utils
apt_install xmlsec1 xmlsec1

# OIDC tests: a real OIDC provider (npm oidc-provider, pinned by package-lock.json) run by Node.
oidc_dir=tests/integration/identity/oidc_provider
if [ ! -d "$oidc_dir/node_modules/oidc-provider" ]; then
  apt_install node nodejs
  apt_install npm npm
  (cd "$oidc_dir" && npm ci --silent --no-audit --no-fund)
fi
