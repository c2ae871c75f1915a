#!/usr/bin/env bash
# Lints the AWS SAM template (template.yaml) with cfn-lint and, where the AWS
# SAM CLI is installed, with `sam validate --lint`.
#
# Idempotent: cfn-lint is installed once, from PyPI, into a private virtualenv
# under ${XDG_CACHE_HOME:-$HOME/.cache}/sr-runner/cfn-lint-venv, and reinstalled
# only when the pinned version changes. Needs python3 with the venv module.
# The SAM CLI is never installed here (it is large): install it yourself to get
# the second check. Exits non-zero if any check fails; warnings count as
# failures for cfn-lint (its exit code is non-zero on warnings too).
set -euo pipefail
cd "$(dirname "$0")/.."

CFN_LINT_VERSION="${CFN_LINT_VERSION:-1.58.0}"
TEMPLATE="${1:-template.yaml}"
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/sr-runner/cfn-lint-venv"

installed_version() {
  "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("cfn-lint"))' 2>/dev/null || true
}

if [[ ! -x "$VENV/bin/cfn-lint" || "$(installed_version)" != "$CFN_LINT_VERSION" ]]; then
  echo "installing cfn-lint==$CFN_LINT_VERSION into $VENV"
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "cfn-lint==$CFN_LINT_VERSION"
fi

echo "== cfn-lint $(installed_version) $TEMPLATE"
"$VENV/bin/cfn-lint" "$TEMPLATE"
echo "cfn-lint: no errors, no warnings"

if command -v sam >/dev/null 2>&1; then
  echo "== sam validate --lint ($(sam --version))"
  sam validate --lint --region eu-west-1 --template-file "$TEMPLATE"
else
  echo "== sam validate: skipped (the AWS SAM CLI is not installed)"
fi
