import type { Server } from 'node:http';
import type { Express } from 'express';

/** Listens, and closes gracefully: stop accepting, let in-flight requests finish, then resolve. */
export function listen(app: Express, host: string, port: number): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (err?: Error) => {
      if (err) return reject(err);
      const address = server.address();
      const actualPort = typeof address === 'object' && address ? address.port : port;
      resolve({
        server,
        url: `http://${host}:${actualPort}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeIdleConnections();
          }),
      });
    });
  });
}
