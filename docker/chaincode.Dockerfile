# Chaincode image for hlf-k8s: the chart runs `./chaincode` in the working directory with CHAINCODE_CCID,
# CHAINCODE_ADDRESS, TLS_CERT_FILE, TLS_KEY_FILE, TLS_ROOTCERT_FILE and LOG_LEVEL set.
# Build from the repository root: docker build -f docker/chaincode.Dockerfile -t substra-fabric/chaincode .
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc tsconfig.base.json ./
COPY proto/ proto/
COPY chaincode/ chaincode/
COPY gateway/package.json gateway/
COPY test/network/package.json test/network/
RUN npm ci --ignore-scripts \
    && npm run build -w proto -w chaincode \
    && npm prune --omit=dev --workspace=@substra-fabric/chaincode --include-workspace-root=false

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# Workspace layout kept as built so that package resolution (and the single @grpc/grpc-js copy) is unchanged.
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/proto ./proto
COPY --from=build /src/chaincode ./chaincode
USER node
# hlf-k8s executes ./chaincode relative to the working directory.
WORKDIR /app/chaincode
CMD ["./chaincode"]
