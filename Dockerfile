# shadowscale: one image, one executable (`shadowscale adapter | receiver | ...`): the TypeScript
# compiled to JavaScript (npm run build) on Node 24, the current LTS; production dependencies only.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --no-audit --no-fund
COPY scripts/build.mjs ./scripts/build.mjs
COPY cli ./cli
COPY core ./core
COPY platform ./platform
COPY adapter ./adapter
COPY alertmanager ./alertmanager
COPY actuators ./actuators
COPY provisioner ./provisioner
COPY dashboards ./dashboards
COPY recording-rules ./recording-rules
COPY simulation ./simulation
COPY demo ./demo
RUN node scripts/build.mjs /app/dist

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY --from=build /app/dist ./dist
# util-linux's chrt (util-linux is essential in Debian, so the slim image has it) is how the adapter's
# fit threads put themselves at SCHED_IDLE (platform/thread-priority.ts).
# Non-root, matching the manifests' runAsUser; the root filesystem can be read-only.
USER 10001:10001
EXPOSE 8080 6443 9100 8081
ENTRYPOINT ["node", "/app/bin/shadowscale.mjs"]
CMD ["--help"]
