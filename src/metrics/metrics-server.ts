import { createServer, type Server } from 'node:http';

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * A listener of its own that answers `GET /metrics` with `text()` (Prometheus text format) and 404
 * otherwise: metrics stay off the public API port, on a port an operator keeps on the internal network.
 */
export async function serveMetrics(opts: { host: string; port: number; contentType: string; text: () => Promise<string> }): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    void opts.text().then(
      (text) => res.writeHead(200, { 'Content-Type': opts.contentType }).end(text),
      (err: Error) => res.writeHead(503, { 'Content-Type': 'text/plain' }).end(`metrics unavailable: ${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return {
    url: `http://${opts.host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
