/**
 * The steps of `npm run build` after `tsc -p tsconfig.build.json`: the SQL migrations next to the
 * compiled migrator, and the workflow bundle the production worker loads (samples-typescript
 * `production`: bundleWorkflowCode at build time, workflowBundle at run time).
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { tracingWorkflowInterceptorModule } from '../src/tracing/tracing.js';

const dist = path.resolve('dist');
mkdirSync(dist, { recursive: true });
cpSync('src/db/migrations', path.join(dist, 'db/migrations'), { recursive: true });
// Bundled from the compiled JavaScript: the bundle is made of exactly the code that ships.
const workflowsPath = path.join(dist, 'workflows/index.js');
// Workflow failures are encoded like the worker's (message and stack inside the encrypted payload).
const failures = { failureConverterPath: path.join(dist, 'temporal/failure-converter.cjs') };
const { code } = await bundleWorkflowCode({ workflowsPath, ...failures });
writeFileSync(path.join(dist, 'workflow-bundle.js'), code);
// Workers with tracing on (OTEL_EXPORTER_OTLP_ENDPOINT) load this one: the same workflows plus the
// OpenTelemetry workflow interceptors, which the plain bundle leaves out so tracing off costs nothing.
const traced = await bundleWorkflowCode({ workflowsPath, ...failures, workflowInterceptorModules: [tracingWorkflowInterceptorModule] });
writeFileSync(path.join(dist, 'workflow-bundle-traced.js'), traced.code);
console.log(`build: dist/workflow-bundle.js (${Math.round(code.length / 1024)} KiB), dist/workflow-bundle-traced.js (${Math.round(traced.code.length / 1024)} KiB), migrations copied`);
