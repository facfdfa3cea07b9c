import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';

/**
 * A slow network in front of an emulator: each request that `holds` selects is held for `holdMs`
 * before it is forwarded, and forwarded even if the caller is gone, so a worker can die after sending
 * a call that the provider then carries out.
 */
export function startHoldingProxy(opts: {
  target: () => string;
  holds: (req: IncomingMessage) => boolean;
  onHeld: () => void;
  holdMs: number;
}): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const held = opts.holds(req);
      if (held) opts.onHeld();
      setTimeout(() => {
        const upstream = httpRequest(`${opts.target()}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        });
        upstream.on('error', () => res.destroy());
        upstream.end(Buffer.concat(chunks));
      }, held ? opts.holdMs : 0);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({ url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`, server });
    }),
  );
}
