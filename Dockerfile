# One image for both processes: `npm run api` or `npm run worker` (see docker-compose.yml).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY tsconfig.json drizzle.config.ts ./
COPY src ./src
COPY emulators ./emulators
COPY providers ./providers
USER node
EXPOSE 3000
CMD ["npm", "run", "api"]
