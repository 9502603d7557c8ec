# A chat node. Debian 12 (glibc 2.36) runs the uWebSockets.js v20.30.0 binary (needs >= 2.27).
# Stage 1 installs production dependencies (native install scripts need a toolchain);
# stage 2 is the runtime, as an unprivileged user. Node 20 is within package.json's engines
# (^20.6.0 || >=22), which test/unit/dependency-engines.test.ts holds every dependency to.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY vendor ./vendor
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
# Two malloc arenas: with glibc's default (8 per core) freed memory stays in per-thread arenas and
# RSS creeps under load (bench soak: +73 MB in 5 min with the default, flat with 2).
ENV NODE_ENV=production PORT=9001 DATA_DIR=/data MALLOC_ARENA_MAX=2
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY vendor ./vendor
COPY protocol ./protocol
COPY actors ./actors
COPY src ./src
# The web pages are bundled at runtime from web/, which imports the client SDK.
COPY sdk ./sdk
COPY web ./web
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 9001
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||9001)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "--import", "tsx", "src/main.ts"]
