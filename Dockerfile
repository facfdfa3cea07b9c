# Multi-stage: compile and bundle with dev dependencies, ship only dist/ and production dependencies.
# One image for both processes: `node dist/api/main.js` (default) or `node dist/workers/main.js`.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# `npm install`, not `npm ci`, for the same reason as .ci/run (registry mirrors missing optional platform packages).
RUN npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.ts ./scripts/build.ts
COPY src ./src
RUN npm run build

FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:22-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY providers ./providers
USER node
EXPOSE 3000
CMD ["node", "dist/api/main.js"]
