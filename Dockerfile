# A complete node. Debian 12 (glibc 2.36) runs the uWebSockets.js v20.30.0 binary (needs >= 2.27).
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
COPY vendor ./vendor
RUN npm ci --omit=dev --no-audit --no-fund
COPY protocol ./protocol
COPY actors ./actors
COPY src ./src
COPY tsconfig.json ./
ENV PORT=9001 DATA_DIR=/data
VOLUME /data
EXPOSE 9001
STOPSIGNAL SIGTERM
CMD ["node", "--import", "tsx", "src/main.ts"]
