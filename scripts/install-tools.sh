#!/usr/bin/env bash
# Installs the non-Python tools the tests need, if they are missing:
#  - Azurite (npm) into .tools/node_modules
#  - Chromium (Debian) for the page's browser tests (needs root for apt-get)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .tools/node_modules/.bin/azurite ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "installing azurite (npm) into .tools/"
    npm install --silent --no-audit --no-fund --prefix .tools azurite@3 >/dev/null
  else
    echo "npm not found: the Azure tests will be skipped (install Node.js and npm)" >&2
  fi
fi

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium (Debian) for the browser tests"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium not found and not root: the browser tests will be skipped" >&2
  fi
fi
