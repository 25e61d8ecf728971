# The buildkit-step image: the CLI on Node 24 plus the pinned buildx and cloud registry credential
# helpers, nothing else.
#
# No `# syntax=` line on purpose: the Dockerfile frontend built into buildkitd is used, so the
# build contacts no registry but the ones serving the base images (and npm / the Go module proxy
# from the RUN steps).
#
# Base images are pinned by digest. The digests below were taken from public Dockerfiles that pin
# the same tags (node:24-bookworm-slim -> Node 24.18.0); they could not be checked against Docker
# Hub from the machine this was written on (no access), so verify them once with
#   buildx imagetools inspect node:24-bookworm-slim   /   golang:1.26-bookworm
# and keep them current (Renovate / Dependabot "docker" ecosystem). Every base is an ARG so a
# mirror or a test can replace it (`--build-arg NODE_IMAGE=...`), and each FROM name can also be
# replaced with `--build-context '<the FROM name>=docker-image://...'` (test/image does that).
ARG NODE_IMAGE=node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d
ARG GO_IMAGE=golang:1.26-bookworm@sha256:9fdc884aacc3bec89b20ffc69f4bb369c78210e3e4f600387b5128b12c199f81
# Must equal BUILDX_VERSION in scripts/versions.env (test/image checks it).
ARG BUILDX_VERSION=v0.38.2
# The cloud registry credential helpers; must equal scripts/versions.env (test/image checks them).
ARG ECR_LOGIN_VERSION=v0.12.0
ARG GCR_VERSION=v2.2.1
ARG ACR_ENV_VERSION=v0.0.0-20230304212654-82a0ddb27589

# --- buildx, built from Go modules exactly like scripts/install-tools.sh builds it -------------
# Runs on the build platform and cross-compiles for the target one (CGO is off, so it is pure Go):
# a multi-platform build (`--platform linux/amd64,linux/arm64`) compiles nothing under emulation.
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS buildx-build
ARG BUILDX_VERSION
ARG TARGETOS TARGETARCH
# buildx's go.mod asks for a newer Go patch release than the image may have: let the go command
# fetch that toolchain (a module from the Go module proxy) instead of failing.
ENV CGO_ENABLED=0 GOTOOLCHAIN=auto
# `go install` refuses to cross-compile into a GOBIN, so GOBIN stays unset: a native build lands
# in $GOPATH/bin/buildx, a cross build in $GOPATH/bin/<GOOS>_<GOARCH>/buildx. A native binary is
# run to check its version; a cross one cannot be, so its embedded build info is checked instead.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    --mount=type=secret,id=ca-certs,required=false \
    if [ -s /run/secrets/ca-certs ]; then \
      cat /etc/ssl/certs/ca-certificates.crt /run/secrets/ca-certs > /tmp/ca-certs.pem \
      && export SSL_CERT_FILE=/tmp/ca-certs.pem; \
    fi \
 && export GOOS="${TARGETOS:-$(go env GOHOSTOS)}" GOARCH="${TARGETARCH:-$(go env GOHOSTARCH)}" \
 && unset GOBIN \
 && go install -trimpath \
      -ldflags "-s -w -X github.com/docker/buildx/version.Version=${BUILDX_VERSION}" \
      "github.com/docker/buildx/cmd/buildx@${BUILDX_VERSION}" \
 && gopath="$(go env GOPATH)" \
 && if [ "${GOOS}/${GOARCH}" = "$(go env GOHOSTOS)/$(go env GOHOSTARCH)" ]; then \
      bin="${gopath}/bin/buildx" && "${bin}" version | grep -qF " ${BUILDX_VERSION}"; \
    else \
      bin="${gopath}/bin/${GOOS}_${GOARCH}/buildx" \
      && go version -m "${bin}" | grep -qE "^[[:space:]]+mod[[:space:]]+github.com/docker/buildx[[:space:]]+${BUILDX_VERSION}[[:space:]]" \
      && go version -m "${bin}" | grep -qE "^[[:space:]]+build[[:space:]]+GOARCH=${GOARCH}\$"; \
    fi \
 && install -m 0755 "${bin}" /buildx

# The one place the runtime takes buildx from: `/buildx` of this stage. A prebuilt binary can
# replace the stage, and skip the Go build and the golang image entirely, with
#   --build-context buildx-bin=<a directory holding just `buildx`>
# This must stay a bare alias (FROM, no instructions): BuildKit drops a replaced stage's base but
# still follows its instructions' dependencies (a `COPY --from=buildx-build` here would make the
# golang image load even when the stage is replaced).
FROM buildx-build AS buildx-bin

# --- cloud registry credential helpers, from pinned Go modules ---------------------------------
# `credHelpers` / `credsStore` in a docker config name `docker-credential-<name>` on PATH; buildx
# runs it for each registry. ECR (amazon-ecr-credential-helper's ecr-login), Google Artifact /
# Container Registry (docker-credential-gcr) and Azure ACR (docker-credential-acr-env: service
# principal or workload identity from AZURE_* env, no az CLI). Cross-compiled on the build
# platform like buildx; scripts/install-cred-helpers.sh builds the same on a host.
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS cred-helpers-build
ARG ECR_LOGIN_VERSION GCR_VERSION ACR_ENV_VERSION
ARG TARGETOS TARGETARCH
ENV CGO_ENABLED=0 GOTOOLCHAIN=auto
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    --mount=type=secret,id=ca-certs,required=false \
    if [ -s /run/secrets/ca-certs ]; then \
      cat /etc/ssl/certs/ca-certificates.crt /run/secrets/ca-certs > /tmp/ca-certs.pem \
      && export SSL_CERT_FILE=/tmp/ca-certs.pem; \
    fi \
 && export GOOS="${TARGETOS:-$(go env GOHOSTOS)}" GOARCH="${TARGETARCH:-$(go env GOHOSTARCH)}" \
 && unset GOBIN \
 && go install -trimpath \
      -ldflags "-s -w -X github.com/awslabs/amazon-ecr-credential-helper/ecr-login/version.Version=${ECR_LOGIN_VERSION#v}" \
      "github.com/awslabs/amazon-ecr-credential-helper/ecr-login/cli/docker-credential-ecr-login@${ECR_LOGIN_VERSION}" \
 && go install -trimpath -ldflags "-s -w" "github.com/GoogleCloudPlatform/docker-credential-gcr/v2@${GCR_VERSION}" \
 && go install -trimpath -ldflags "-s -w" "github.com/chrismellard/docker-credential-acr-env@${ACR_ENV_VERSION}" \
 && gopath="$(go env GOPATH)" \
 && if [ "${GOOS}/${GOARCH}" = "$(go env GOHOSTOS)/$(go env GOHOSTARCH)" ]; then bin="${gopath}/bin"; else bin="${gopath}/bin/${GOOS}_${GOARCH}"; fi \
 && install -m 0755 "${bin}/docker-credential-ecr-login" "${bin}/docker-credential-gcr" "${bin}/docker-credential-acr-env" /

# Replaceable like buildx-bin: `--build-context cred-helpers-bin=<a directory holding the three
# docker-credential-* binaries>` skips the Go builds.
FROM cred-helpers-build AS cred-helpers-bin

# --- the CLI, bundled ---------------------------------------------------------------------------
# `npm ci` needs the npm registry. Two optional build secrets adapt it to a CI network without
# landing in any layer:
#   --secret id=npmrc,src=$HOME/.npmrc              a registry mirror and/or its auth token
#   --secret id=ca-certs,src=/path/to/ca-bundle.pem  extra CA certificates (PEM) that npm and go
#       trust in this build: for a mirror or a TLS-inspecting proxy with a private CA
# Runs on the build platform: the bundle is plain JavaScript, so what is built here runs on every
# target platform.
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    --mount=type=secret,id=npmrc,target=/root/.npmrc,required=false \
    --mount=type=secret,id=ca-certs,required=false \
    { [ ! -s /run/secrets/ca-certs ] || export NODE_EXTRA_CA_CERTS=/run/secrets/ca-certs; } \
 && npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY schemas ./schemas
COPY scripts/bundle.ts scripts/schema-type.mjs ./scripts/
COPY src ./src
# tsconfig also includes test/ and scripts/, which .dockerignore keeps out: only src/ and the
# bundle script compile. `npm run build` writes the params type from the schema
# (scripts/schema-type.mjs), type-checks, then bundles the CLI with its dependencies
# and the params schema into one file (scripts/bundle.ts, esbuild): the only file the runtime
# takes from here, so no node_modules ships.
RUN npm run build \
 && mkdir -p /out/app /out/bin \
 && install -m 0755 dist/buildkit-step.mjs /out/app/buildkit-step.mjs \
 && ln -s /app/buildkit-step.mjs /out/bin/buildkit-step

# --- the step image ------------------------------------------------------------------------------
# The only stage on the target platform; it runs nothing, it only copies.
FROM ${NODE_IMAGE}
ARG BUILDX_VERSION ECR_LOGIN_VERSION GCR_VERSION ACR_ENV_VERSION
LABEL org.opencontainers.image.title="buildkit-step" \
      org.opencontainers.image.description="One container-image build step for Tekton and Argo Workflows: buildx against a buildkitd sidecar, validated params, small exact results." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="0.1.0" \
      io.github.buildkit-step.buildx.version="${BUILDX_VERSION}" \
      io.github.buildkit-step.cred-helpers.versions="ecr-login ${ECR_LOGIN_VERSION}, gcr ${GCR_VERSION}, acr-env ${ACR_ENV_VERSION}"

# Everything is owned by root and read-only for the step user.
COPY --from=build /out/app/ /app/
COPY --from=build /out/bin/ /usr/local/bin/
COPY --from=buildx-bin /buildx /usr/local/bin/buildx
COPY --from=cred-helpers-bin /docker-credential-ecr-login /docker-credential-gcr /docker-credential-acr-env /usr/local/bin/

# The step writes only below $TMPDIR (buildx state in $TMPDIR/buildkit-step, the default OCI
# layout and metadata file) and the results dir the engine mounts; HOME is never used.
ENV NODE_ENV=production \
    TMPDIR=/tmp \
    HOME=/home/node

WORKDIR /workspace

# The node images' `node` user, numeric for runAsNonRoot. How it reaches the daemon's socket
# (the sidecar's `--group`, or a rootless daemon as the same uid): scripts/pod-layout.ts.
USER 1000:1000
ENTRYPOINT ["node", "/app/buildkit-step.mjs"]
