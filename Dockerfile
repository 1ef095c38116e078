# shadowscale: one image, one executable (`shadowscale adapter | receiver | ...`).
# The TypeScript runs through tsx (no build step), as in development; production dependencies only.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY cli ./cli
COPY core ./core
COPY platform ./platform
COPY adapter ./adapter
COPY alertmanager ./alertmanager
COPY dashboards ./dashboards
COPY recording-rules ./recording-rules
# The demo's defaults only (its option help); the demo itself needs Prometheus and is not in the image.
COPY demo/defaults.ts ./demo/defaults.ts
# Non-root, matching the manifests' runAsUser; the root filesystem can be read-only (tsx caches in /tmp).
USER 10001:10001
EXPOSE 8080 6443 9100 8081
ENTRYPOINT ["node", "/app/bin/shadowscale.mjs"]
CMD ["--help"]
