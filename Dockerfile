# syntax=docker/dockerfile:1
#
# signerd in a container. Three stages:
#   build       compilers, `npm ci` (builds pkcs11js and signerd's native addon), `npm run build`,
#               then drops the dev dependencies
#   dev         runtime + SoftHSM2, runs `signerd dev` (a throwaway token with demo keys)
#   production  (the default target) runtime only, no compilers, as the unprivileged signerd user
#
#   docker build -t signerd .                  # production
#   docker build -t signerd:dev --target dev .
#
# What the image does NOT contain, on purpose: a PKCS#11 module for real hardware, and the PIN.
# - The module comes from the host or from a vendor image. Either bind-mount the .so and the
#   libraries it links to (`ldd` lists them) read-only, e.g. for a YubiKey through ykcs11, which
#   talks to the host's pcscd:
#     -v /usr/lib/x86_64-linux-gnu/libykcs11.so.2:/usr/lib/pkcs11/libykcs11.so:ro \
#     -v /run/pcscd:/run/pcscd
#   (and `hsm.module: /usr/lib/pkcs11/libykcs11.so`), or build FROM this image (USER root, install
#   the vendor's package, USER signerd), or FROM the vendor's image with this one's COPY lines.
# - The PIN comes in as a Docker/Compose secret, mounted at /run/secrets/hsm-pin; the config then
#   says `pin: { file: /run/secrets/hsm-pin }`. Never as an environment variable of the image.
# - The config is mounted at /etc/signerd/signerd.yaml (read-only, mode 0640 or tighter).
# The socket: mount a host directory at /run/signerd and point host clients at the socket in it.
# Peer uids are the host's as long as the container shares the host's user namespace (Docker's
# default); with userns-remap or rootless Docker, host clients show up as uid 65534 and per-client
# policy cannot tell them apart - see SECURITY.md.

# Node 22 (an LTS line; signerd's engines allow >= 20.11) on Debian 12. Pinned to the major version;
# pin a digest (node:22-bookworm-slim@sha256:...) for reproducible builds.
FROM node:22-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# node-gyp compiles against the headers that ship with the image's Node instead of downloading them.
ENV npm_config_nodedir=/usr/local
# Dependencies first (cached while only src/ changes). `npm ci` also runs the package's install
# script, node-gyp, which builds build/Release/signerd_native.node from binding.gyp and native/.
COPY package.json package-lock.json binding.gyp ./
COPY native/ native/
RUN npm ci --no-fund --no-audit
COPY tsconfig.json tsconfig.build.json ./
COPY src/ src/
RUN npm run build \
 && npm prune --omit=dev --no-fund --no-audit

FROM node:22-bookworm-slim AS runtime
# A fixed uid/gid, so host-side files (socket directory, audit log volume) can be owned to match.
RUN groupadd --system --gid 10001 signerd \
 && useradd --system --uid 10001 --gid signerd --home-dir /var/lib/signerd --shell /usr/sbin/nologin signerd \
 && install -d -o root -g signerd -m 0750 /etc/signerd \
 && install -d -o signerd -g signerd -m 0750 /var/lib/signerd /run/signerd
WORKDIR /opt/signerd
# Root-owned and read-only to the daemon: it cannot alter its own code.
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules/ ./node_modules/
COPY --from=build /src/dist/ ./dist/
COPY --from=build /src/build/Release/signerd_native.node ./build/Release/signerd_native.node
COPY native-config/ ./native-config/
ENV NODE_ENV=production
# `signerd serve` refuses to run as root in this image (override the user at your peril: --allow-root).
ENV SIGNERD_REFUSE_ROOT=1

FROM runtime AS dev
RUN apt-get update \
 && apt-get install -y --no-install-recommends softhsm2 \
 && rm -rf /var/lib/apt/lists/*
ENV SIGNERD_HOME=/var/lib/signerd
USER signerd
VOLUME ["/var/lib/signerd"]
ENTRYPOINT ["node", "/opt/signerd/dist/cli/signerd.js"]
CMD ["dev"]

FROM runtime AS production
USER signerd
VOLUME ["/var/lib/signerd"]
ENTRYPOINT ["node", "/opt/signerd/dist/cli/signerd.js"]
CMD ["serve", "--config", "/etc/signerd/signerd.yaml"]
