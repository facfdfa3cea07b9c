import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Express } from 'express';

export interface ListeningServer {
  server: Server;
  url: string;
  /**
   * Graceful: stop accepting, let in-flight requests finish, then resolve. After `timeoutMs` (if
   * given) the remaining connections are cut, so a hung request cannot hold a deploy forever.
   */
  close(timeoutMs?: number): Promise<void>;
}

/** Listens, and closes gracefully. */
export function listen(app: Express, host: string, port: number): Promise<ListeningServer> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (err?: Error) => {
      if (err) return reject(err);
      server.on('clientError', answerMalformedRequest);
      const address = server.address();
      const actualPort = typeof address === 'object' && address ? address.port : port;
      resolve({
        server,
        url: `http://${host}:${actualPort}`,
        close: (timeoutMs) =>
          new Promise<void>((done) => {
            const timer = timeoutMs === undefined ? undefined : setTimeout(() => server.closeAllConnections(), timeoutMs);
            server.close(() => {
              clearTimeout(timer);
              done();
            });
            server.closeIdleConnections();
          }),
      });
    });
  });
}

/**
 * Requests Node refuses before Express sees them (headers or URL over the 16 KB limit, malformed
 * HTTP) get the API's error shape instead of Node's bare status line, so clients can read why.
 */
function answerMalformedRequest(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) return void socket.destroy();
  const [status, reason, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'the request line and headers exceed 16 KB; shorten the URL or the headers']
      : [400, 'Bad Request', 'the request is not valid HTTP'];
  const body = JSON.stringify({ error: { code: 'invalid_request', message, requestId: '' } });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
