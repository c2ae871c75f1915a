# sr-runner as an AWS Lambda container image (x86_64), built by `sam build`
# (template.yaml: DockerContext ., Dockerfile Dockerfile).
#
# Package names checked against the AL2023 package list: gcc, gcc-c++, python3,
# nodejs20, nodejs20-npm, java-17-amazon-corretto-devel, golang, rust,
# findutils (runtime); gcc, gcc-c++, make, cmake, perl, tar, gzip (build).
# nodejs20/nodejs20-npm, their /usr/bin/node-20 naming and the microdnf-as-dnf
# of the Lambda AL2023 base images were checked in AWS's documentation; the
# other names are those of the AL2023 repositories as known, not re-read from
# a live list. `coreutils` is deliberately not installed: the Lambda base image
# ships coreutils-single, which conflicts with it and is expected to provide
# stdbuf already (a check below fails the build if stdbuf is there but broken,
# and says so if it is missing). The image has not been built here (no Docker
# engine): build it once before relying on it.

# ---------------------------------------------------------------- build ------
# Built on Amazon Linux 2023 itself so the binary links against the same glibc
# (2.34) as the Lambda base image it runs on.
FROM public.ecr.aws/amazonlinux/amazonlinux:2023 AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Same Rust as the project's own builds; rustup rather than AL2023's `rust`
# package, which may lag behind what the locked dependencies need.
ARG RUST_VERSION=1.95.0
# A C toolchain for the linker and for aws-lc-sys (TLS of the AWS SDK); cmake
# and perl only in case aws-lc-sys falls back to its CMake build.
RUN dnf install -y gcc gcc-c++ make cmake perl tar gzip \
    && dnf clean all
ENV RUSTUP_HOME=/usr/local/rustup \
    CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:$PATH
RUN curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
    | sh -s -- -y --no-modify-path --profile minimal --default-toolchain "$RUST_VERSION"

WORKDIR /build
# Dependencies first, in their own layer: a source change rebuilds only the
# crate. The stub sources are replaced (and touched, so cargo sees them newer
# than the stub build) before the real build.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY src ./src
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin sr-runner \
    && strip target/release/sr-runner

# -------------------------------------------------------------- runtime ------
# The Lambda OS-only base image: AL2023 minimal, microdnf (linked as dnf), and
# /lambda-entrypoint.sh, which runs /var/runtime/bootstrap (through the Runtime
# Interface Emulator when started outside Lambda, so `docker run -p 9000:8080`
# works for local invokes).
FROM public.ecr.aws/lambda/provided:al2023
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# The toolchains user programs are compiled and run with, looked up on
# SANDBOX_PATH (/usr/local/bin:/usr/bin:/bin). At run time the function is an
# unprivileged user on a read-only image with only /tmp writable, so nothing
# here may need writing after the build.
RUN dnf install -y \
        gcc gcc-c++ \
        python3 \
        nodejs20 nodejs20-npm \
        java-17-amazon-corretto-devel \
        golang \
        rust \
        findutils \
    && dnf clean all \
    && rm -rf /var/cache/dnf /var/cache/yum

# AL2023 names Node 20's binaries node-20 and npm-20; `alternatives` (run by
# the packages' scripts) normally points /usr/bin/node and /usr/bin/npm at
# them. Link them by hand if it did not, since sr-runner looks for `node`.
RUN if ! command -v node >/dev/null; then ln -s /usr/bin/node-20 /usr/bin/node; fi \
    && if ! command -v npm >/dev/null; then ln -s /usr/bin/npm-20 /usr/bin/npm; fi \
    && node --version && npm --version

# TypeScript and the Node type definitions, the versions scripts/install-
# toolchains.sh installs. --prefix /usr/local puts tsc in /usr/local/bin and
# @types in /usr/local/lib/node_modules, where sr-runner finds them (beside the
# real path of tsc).
ARG TYPESCRIPT_VERSION=7.0.2
ARG TYPES_NODE_VERSION=20
RUN npm install -g --prefix /usr/local --no-fund --no-audit \
        "typescript@${TYPESCRIPT_VERSION}" "@types/node@${TYPES_NODE_VERSION}" \
    && npm cache clean --force \
    && rm -rf /root/.npm

# The C++ precompiled header, built at image build time with exactly the flags
# user code gets (-std=c++17 -O2 -pipe; GCC ignores a header built with others).
# sr-runner uses it read-only through PREBUILT_PCH_DIR (set below and in template.yaml), so a cold
# start builds nothing. The build fails here, not in production, if g++ cannot
# precompile or then use bits/stdc++.h (g++ -H marks a used .gch with `!`).
RUN hdr="$(echo '#include <bits/stdc++.h>' \
        | g++ -std=c++17 -O2 -pipe -x c++ -M - \
        | tr -s ' \\' '\n\n' | grep '/bits/stdc++\.h$' | sed -n 1p)" \
    && test -n "$hdr" \
    && mkdir -p /opt/sr-runner/pch/bits \
    && cp "$hdr" /opt/sr-runner/pch/bits/stdc++.h \
    && cd /opt/sr-runner/pch \
    && g++ -std=c++17 -O2 -pipe -x c++-header bits/stdc++.h -o bits/stdc++.h.gch \
    && printf '#include <bits/stdc++.h>\nint main() { std::cout << 42 << std::endl; }\n' > /tmp/pch-check.cpp \
    && g++ -std=c++17 -O2 -pipe -I /opt/sr-runner/pch -H /tmp/pch-check.cpp -o /tmp/pch-check \
        2> /tmp/pch-check.log \
    && grep -q '^! .*/bits/stdc++\.h\.gch$' /tmp/pch-check.log \
    && test "$(/tmp/pch-check)" = 42 \
    && rm -f /tmp/pch-check /tmp/pch-check.cpp /tmp/pch-check.log \
    && chmod -R a+rX /opt/sr-runner

# Every toolchain answers on the sandbox PATH, as an unprivileged user would
# find it. stdbuf (from coreutils-single) must work when present, since
# sr-runner uses it for interactive C and C++ runs.
RUN export PATH=/usr/local/bin:/usr/bin:/bin \
    && gcc --version | sed -n 1p \
    && g++ --version | sed -n 1p \
    && python3 --version \
    && node --version \
    && javac -version \
    && java -version 2>&1 | sed -n 1p \
    && go version \
    && rustc --version \
    && tsc --version \
    && test -d /usr/local/lib/node_modules/@types/node \
    && if command -v stdbuf >/dev/null; then stdbuf -i0 -oL true; else echo "note: no stdbuf; interactive C/C++ prompts may be buffered"; fi

COPY --from=build /build/target/release/sr-runner /var/runtime/bootstrap

# Defaults for the function (template.yaml sets them too): writable state under
# /tmp, the header built above.
ENV CACHE_DIR=/tmp/sr-runner-cache \
    WORK_DIR=/tmp/sr-runner-runs \
    PREBUILT_PCH_DIR=/opt/sr-runner/pch

# The entrypoint requires one argument, the handler name; sr-runner has a
# single handler and ignores it (the binary itself is the runtime).
CMD ["sr-runner"]
