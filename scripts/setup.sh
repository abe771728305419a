#!/usr/bin/env bash
# What the sample estate (npm start) and the tests need besides npm packages, installed only where
# missing, so running it again does nothing (`npm run setup` runs `npm ci`, then this):
#   - Chromium, the browser the screen kind drives (adapter billing-ui): Debian's `chromium` package
#     where apt-get can be used (as root, or through sudo without a password), else Playwright's own
#     Chromium download (`npx playwright-core install chromium`), else a message saying what to do;
#   - OpenSSH's server (/usr/sbin/sshd), which the SFTP tests start on free ports: Debian's
#     `openssh-server` (npm start does not need it: the sample's SFTP server runs in-process).
# More Debian packages can be named as arguments, installed when their command is missing:
# `bash scripts/setup.sh psql=postgresql-client` (.ci/run adds the database clients this way).
set -euo pipefail
case "${BASH_SOURCE[0]}" in */*) cd "${BASH_SOURCE[0]%/*}/.." ;; *) cd .. ;; esac
export DEBIAN_FRONTEND=noninteractive

say() { printf 'setup: %s\n' "$*"; }

have_chromium() {
  [ -n "${FICUS_CHROMIUM:-}" ] && [ -x "${FICUS_CHROMIUM}" ] && return 0
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1
}
have_sshd() {
  command -v sshd >/dev/null 2>&1 || [ -x "${FICUS_SETUP_SSHD:-/usr/sbin/sshd}" ]
}

missing=()
have_chromium || missing+=(chromium)
have_sshd || missing+=(openssh-server)
for spec in "$@"; do # command=package
  command -v "${spec%%=*}" >/dev/null 2>&1 || missing+=("${spec#*=}")
done
if [ ${#missing[@]} -eq 0 ]; then
  say "Chromium, OpenSSH's server and the rest are installed; nothing to do"
  exit 0
fi

apt=()
if command -v apt-get >/dev/null 2>&1; then
  if [ "${EUID}" -eq 0 ]; then
    apt=(apt-get)
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    apt=(sudo -n apt-get)
  fi
fi

if [ ${#apt[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  "${apt[@]}" update -qq
  "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  say "installed ${missing[*]}"
  exit 0
fi

# No apt-get that this user may run.
status=0
if [[ " ${missing[*]} " == *" chromium "* ]]; then
  say "no Chromium, and apt-get cannot be used here (no apt-get, or not root): trying Playwright's own Chromium download"
  if npx --no-install playwright-core install chromium; then
    say "Chromium installed by Playwright (the screen kind finds it there)"
  else
    say "could not install Chromium. The screen adapter (billing-ui) stays DOWN until one is installed:"
    say "  Debian/Ubuntu: sudo apt-get install chromium    elsewhere: npx playwright-core install chromium"
    say "  or point FICUS_CHROMIUM at a Chromium or Chrome executable"
    status=1
  fi
fi
others=()
for p in "${missing[@]}"; do [ "$p" = chromium ] || others+=("$p"); done
if [ ${#others[@]} -gt 0 ]; then
  say "not installed (apt-get cannot be used here): ${others[*]}; the sample runs without them, the tests need them:"
  say "  sudo apt-get install ${others[*]}"
fi
# A missing browser is reported, not fatal: the rest of the sample still starts.
[ "$status" -eq 0 ] || say "setup finished with the problems above"
exit 0
