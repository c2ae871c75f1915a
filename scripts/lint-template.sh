#!/usr/bin/env bash
# Lints the AWS SAM template (template.yaml):
#   1. cfn-lint on the template itself (SAM resources checked against SAM's schemas);
#   2. the real SAM transform (aws-sam-translator, the library CloudFormation's
#      AWS::Serverless transform is built from), run offline, then cfn-lint on
#      the plain CloudFormation it produces: this catches what the schemas do
#      not, e.g. properties the transform silently rewrites;
#   3. `sam validate --lint` (the AWS SAM CLI, installed into its own venv).
#
# Idempotent: cfn-lint and aws-sam-translator are installed once, from PyPI,
# into a private virtualenv under ${XDG_CACHE_HOME:-$HOME/.cache}/sr-runner/
# cfn-lint-venv, and reinstalled only when a pinned version changes. Needs
# python3 with the venv module. The SAM CLI is never installed here (it is
# large). No AWS account or network access is needed beyond PyPI for the first
# install. Exits non-zero if any check fails; cfn-lint warnings and
# informational findings fail it too (cfn-lint's exit code is non-zero on them).
set -euo pipefail
cd "$(dirname "$0")/.."

CFN_LINT_VERSION="${CFN_LINT_VERSION:-1.58.0}"
SAM_TRANSLATOR_VERSION="${SAM_TRANSLATOR_VERSION:-1.115.0}"
TEMPLATE="${1:-template.yaml}"
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/sr-runner/cfn-lint-venv"

installed_version() {
  "$VENV/bin/python" -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "$1" 2>/dev/null || true
}

if [[ ! -x "$VENV/bin/cfn-lint" ]] ||
  [[ "$(installed_version cfn-lint)" != "$CFN_LINT_VERSION" ]] ||
  [[ "$(installed_version aws-sam-translator)" != "$SAM_TRANSLATOR_VERSION" ]]; then
  echo "installing cfn-lint==$CFN_LINT_VERSION aws-sam-translator==$SAM_TRANSLATOR_VERSION into $VENV"
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "cfn-lint==$CFN_LINT_VERSION" "aws-sam-translator==$SAM_TRANSLATOR_VERSION"
fi

echo "== cfn-lint $(installed_version cfn-lint): $TEMPLATE"
"$VENV/bin/cfn-lint" "$TEMPLATE"
echo "cfn-lint: no errors, no warnings"

echo "== SAM transform (aws-sam-translator $(installed_version aws-sam-translator), offline)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The region only names ARNs in the output; ImageUri is what `sam build` and
# `sam deploy` fill in for an image function, so a placeholder stands in.
AWS_DEFAULT_REGION=eu-west-1 "$VENV/bin/python" - "$TEMPLATE" "$work/transformed.json" <<'PY'
import json
import sys

from cfnlint.decode import decode
from samtranslator.translator.transform import transform

source, target = sys.argv[1], sys.argv[2]
template, problems = decode(source)
if problems:
    for problem in problems:
        print(problem, file=sys.stderr)
    sys.exit(1)
template = json.loads(json.dumps(template, default=str))
for resource in template.get("Resources", {}).values():
    properties = resource.get("Properties", {})
    if resource.get("Type") == "AWS::Serverless::Function" and properties.get("PackageType") == "Image":
        properties.setdefault("ImageUri", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sr-runner:placeholder")


class ManagedPolicies:
    """Names of the AWS managed policies the template may use (no IAM call)."""

    def load(self):
        names = ["AWSLambdaBasicExecutionRole", "AWSLambdaVPCAccessExecutionRole"]
        return {name: f"arn:aws:iam::aws:policy/service-role/{name}" for name in names}


try:
    output = transform(template, {"AWS::Region": "eu-west-1"}, ManagedPolicies())
except Exception as err:  # the translator reports template errors as exceptions
    print(f"SAM transform failed: {err}", file=sys.stderr)
    sys.exit(1)
with open(target, "w") as f:
    json.dump(output, f, indent=1)
kinds = sorted({r["Type"] for r in output["Resources"].values()})
print(f"{len(output['Resources'])} resources: {', '.join(kinds)}")
PY
"$VENV/bin/cfn-lint" "$work/transformed.json"
echo "cfn-lint on the transformed template: no errors, no warnings"

# The AWS SAM CLI validates without an AWS account; it lives in its own venv
# (its pins differ from cfn-lint's).
SAM_CLI_VERSION=1.170.0
SAM_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/sr-runner/sam-venv"
if [[ "$("$SAM_VENV/bin/sam" --version 2>/dev/null)" != *"$SAM_CLI_VERSION"* ]]; then
  echo "installing aws-sam-cli==$SAM_CLI_VERSION into $SAM_VENV"
  python3 -m venv "$SAM_VENV"
  "$SAM_VENV/bin/pip" install --quiet --disable-pip-version-check "aws-sam-cli==$SAM_CLI_VERSION"
fi
echo "== sam validate --lint ($("$SAM_VENV/bin/sam" --version))"
SAM_CLI_TELEMETRY=0 "$SAM_VENV/bin/sam" validate --lint --region eu-west-1 --template-file "$TEMPLATE"
