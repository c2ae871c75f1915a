#!/usr/bin/env bash
# Installs the language toolchains sr-runner runs user programs with, on Debian.
# Idempotent: installs only what is missing. Needs root (apt-get, npm -g).
#
# User programs run under unprivileged uids with PATH=/usr/local/bin:/usr/bin:/bin,
# so every toolchain must live there (not under /root): Rust for user code comes
# from Debian's rustc package, not from the rustup toolchain that builds sr-runner.
set -euo pipefail

TYPESCRIPT_VERSION="${TYPESCRIPT_VERSION:-7.0.2}"
TYPES_NODE_VERSION="${TYPES_NODE_VERSION:-20}"

missing=()
have() { PATH=/usr/local/bin:/usr/bin:/bin command -v "$1" >/dev/null 2>&1; }
have gcc      || missing+=(gcc)
have g++      || missing+=(g++)
have python3  || missing+=(python3)
have node     || missing+=(nodejs npm)
have javac    || missing+=(openjdk-17-jdk-headless)
have go       || missing+=(golang-go)
have rustc    || missing+=(rustc)
have stdbuf   || missing+=(coreutils)

if ((${#missing[@]})); then
  echo "installing from Debian: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

npm_root="$(npm root -g)"
if ! have tsc || [[ ! -d "$npm_root/@types/node" ]]; then
  echo "installing from npm: typescript@$TYPESCRIPT_VERSION @types/node@$TYPES_NODE_VERSION"
  npm install -g --no-fund --no-audit "typescript@$TYPESCRIPT_VERSION" "@types/node@$TYPES_NODE_VERSION" >/dev/null
fi
echo "toolchains ready"
