# Vigil's images, one target per image, built from the repository root:
#
#   docker build --target health-check -t vigil/health-check .
#   docker build --target watchdog     -t vigil/watchdog .
#   docker build --target activation   -t vigil/activation .
#   docker build --target demo         -t vigil/demo .
#
# The workspaces are installed and compiled once (stage `build`), shared by the four images. Each
# image then takes only its own service: the production dependencies of that workspace (its
# `*-deps` stage) and the compiled output of the service and the packages it imports.

# Must equal the root package.json devDependency `node` (the version the tests run on).
ARG NODE_VERSION=24.21.0

# The npm manifests, and nothing else, so that the dependency layers below are rebuilt only when
# one of them changes.
FROM node:${NODE_VERSION}-bookworm-slim AS manifests
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY packages/checks/package.json packages/checks/
COPY packages/alerting/package.json packages/alerting/
COPY packages/coordination/package.json packages/coordination/
COPY packages/client/package.json packages/client/
COPY services/health-check/package.json services/health-check/
COPY services/watchdog/package.json services/watchdog/
COPY services/activation/package.json services/activation/
COPY services/demo/package.json services/demo/

# Every workspace compiled once. --ignore-scripts: nothing the build needs has an install script,
# and the `node` devDependency's would download a second Node. The image's own node runs tsc
# (node_modules/.bin/node would be that devDependency); tsc's incremental state stays behind.
FROM manifests AS build
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.base.json ./
COPY packages packages
COPY services services
COPY scripts/copy-console-assets.js scripts/
# tsc emits no .css or plain browser script: the activation console's app.js and app.css are copied beside its compiled code.
RUN node node_modules/typescript/bin/tsc -b services/health-check services/watchdog services/activation services/demo \
 && node scripts/copy-console-assets.js \
 && rm packages/*/dist/.tsbuildinfo services/*/dist/.tsbuildinfo

# Production dependencies, one workspace each.
FROM manifests AS health-check-deps
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund -w @vigil/health-check
FROM manifests AS watchdog-deps
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund -w @vigil/watchdog
FROM manifests AS activation-deps
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund -w @vigil/activation
FROM manifests AS demo-deps
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund -w @vigil/demo

# What every image shares: production mode, the base image's unprivileged user (uid 1000; the
# application files stay owned by root), the config mounted read-only at /etc/vigil and the state
# (dataDir: /var/lib/vigil) in a volume the service can write.
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ARG NODE_VERSION
LABEL org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/node:${NODE_VERSION}-bookworm-slim"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/packages/core/package.json packages/core/
COPY --from=build /app/packages/core/dist packages/core/dist
STOPSIGNAL SIGTERM

FROM runtime AS service
ENV VIGIL_CONFIG=/etc/vigil/config.yaml
RUN mkdir -p /etc/vigil /var/lib/vigil && chown node:node /var/lib/vigil
COPY --from=build /app/packages/checks/package.json packages/checks/
COPY --from=build /app/packages/checks/dist packages/checks/dist
VOLUME ["/etc/vigil", "/var/lib/vigil"]

# ---- the images ------------------------------------------------------------------------------
# No curl in them: each HEALTHCHECK runs the entry point's own `healthcheck` command, which asks
# the service's /readyz (the demo: its role's own port). Its timeout leaves room for Node to start
# on a busy host (seconds, measured), and only three failures in a row after the start period
# make a container unhealthy.

FROM service AS health-check
LABEL org.opencontainers.image.title="vigil-health-check" \
      org.opencontainers.image.description="Vigil health-check: runs beside the primary and answers GET /health for the primary region"
COPY --from=health-check-deps /app/node_modules ./node_modules
COPY --from=build /app/services/health-check/package.json services/health-check/
COPY --from=build /app/services/health-check/dist services/health-check/dist
USER node
EXPOSE 8081
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 \
  CMD ["node", "services/health-check/dist/main.js", "healthcheck"]
ENTRYPOINT ["node", "services/health-check/dist/main.js"]
CMD ["run"]

FROM service AS watchdog
LABEL org.opencontainers.image.title="vigil-watchdog" \
      org.opencontainers.image.description="Vigil watchdog: probes the primary region from another one, alerts, and asks for failover"
COPY --from=watchdog-deps /app/node_modules ./node_modules
COPY --from=build /app/packages/alerting/package.json packages/alerting/
COPY --from=build /app/packages/alerting/dist packages/alerting/dist
COPY --from=build /app/services/watchdog/package.json services/watchdog/
COPY --from=build /app/services/watchdog/dist services/watchdog/dist
USER node
EXPOSE 8082
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 \
  CMD ["node", "services/watchdog/dist/main.js", "healthcheck"]
ENTRYPOINT ["node", "services/watchdog/dist/main.js"]
CMD ["run"]

FROM service AS activation
LABEL org.opencontainers.image.title="vigil-activation" \
      org.opencontainers.image.description="Vigil activation: runs the activation plan once per incident and tells clients which side is active"
COPY --from=activation-deps /app/node_modules ./node_modules
COPY --from=build /app/packages/alerting/package.json packages/alerting/
COPY --from=build /app/packages/alerting/dist packages/alerting/dist
COPY --from=build /app/packages/coordination/package.json packages/coordination/
COPY --from=build /app/packages/coordination/dist packages/coordination/dist
COPY --from=build /app/services/activation/package.json services/activation/
COPY --from=build /app/services/activation/dist services/activation/dist
USER node
EXPOSE 8083
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 \
  CMD ["node", "services/activation/dist/main.js", "healthcheck"]
ENTRYPOINT ["node", "services/activation/dist/main.js"]
CMD ["run"]

# One sample role per container (VIGIL_SAMPLE_ROLE = primary | standby | sink): the primary app,
# the standby app or a receiver of alerts. No state, no config file.
FROM runtime AS demo
LABEL org.opencontainers.image.title="vigil-demo" \
      org.opencontainers.image.description="Vigil demo: a sample primary app, standby app or alert sink (VIGIL_SAMPLE_ROLE)"
COPY --from=demo-deps /app/node_modules ./node_modules
COPY --from=build /app/packages/client/package.json packages/client/
COPY --from=build /app/packages/client/dist packages/client/dist
COPY --from=build /app/services/demo/package.json services/demo/
COPY --from=build /app/services/demo/dist services/demo/dist
USER node
EXPOSE 8089 8090 8091 8099
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 \
  CMD ["node", "services/demo/dist/sample.js", "healthcheck"]
ENTRYPOINT ["node", "services/demo/dist/sample.js"]
CMD ["run"]
