# Gateway image, drop-in for the Substra orchestrator chart in distributed mode: /app/orchestrator serves gRPC
# on 9000 and metrics on 8484; /bin/grpc_health_probe serves the chart's exec probes.
# Build from the repository root: docker build -f docker/gateway.Dockerfile -t substra-fabric/gateway .
FROM golang:1.26-bookworm AS probe
RUN CGO_ENABLED=0 GOBIN=/out go install github.com/grpc-ecosystem/grpc-health-probe@v0.4.39

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc tsconfig.base.json ./
COPY proto/ proto/
COPY gateway/ gateway/
COPY chaincode/package.json chaincode/
COPY test/network/package.json test/network/
RUN npm ci --ignore-scripts \
    && npm run build -w proto -w gateway \
    && npm prune --omit=dev --workspace=@substra-fabric/gateway --include-workspace-root=false

FROM node:20-bookworm-slim
ENV NODE_ENV=production
ENV ORCHESTRATOR_HOST=0.0.0.0
WORKDIR /app
COPY --from=probe /out/grpc-health-probe /bin/grpc_health_probe
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/proto ./proto
COPY --from=build /src/gateway ./gateway
RUN printf '#!/bin/sh\nexec node /app/gateway/dist/src/main.js "$@"\n' > /app/orchestrator && chmod +x /app/orchestrator \
    && mkdir -p /var/lib/orchestrator && chown node:node /var/lib/orchestrator
# The event index: writable by the non-root user whatever the chart mounts (or not). A volume here keeps it across
# restarts; without one, a new container rebuilds it from the chain (see the README's "Deploying").
ENV ORCHESTRATOR_STATE_DIR=/var/lib/orchestrator
VOLUME /var/lib/orchestrator
USER node
EXPOSE 9000 8484
CMD ["/app/orchestrator"]
