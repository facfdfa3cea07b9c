// Baseline webhook ingest process: `tsx bench/baseline/webhook-server.ts` with BENCH_* variables set by
// bench/run.ts. The least an HTTP webhook receiver could do: read the body, one INSERT, one signal.
import { createServer } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import postgres from 'postgres';
import { bareCallbackSignal } from './workflows.js';
import { requiredEnv } from './env.js';

const env = requiredEnv;

const sql = postgres(env('BENCH_DATABASE_URL'), { max: 10, onnotice: () => {} });
const connection = await Connection.connect({ address: env('BENCH_TEMPORAL_ADDRESS') });
const client = new Client({ connection });

// POST /hooks/<workflow id> with {"id": ..., "status": ...}
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    void (async () => {
      const workflowId = decodeURIComponent((req.url ?? '').replace(/^\/hooks\//, ''));
      const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string; status: string };
      await sql`insert into bench_baseline_events (id, workflow_id, payload) values (${event.id}, ${workflowId}, ${sql.json(event)})`;
      await client.workflow.getHandle(workflowId).signal(bareCallbackSignal, { eventId: event.id, status: event.status });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
    })().catch((err: unknown) => res.writeHead(500).end(String(err)));
  });
});
server.listen(Number(env('BENCH_BASELINE_PORT')), '127.0.0.1', () => console.log('baseline webhook server listening'));
process.once('SIGTERM', () => {
  server.close();
  void sql.end().then(() => connection.close());
});
