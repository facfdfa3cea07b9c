import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { apiSchema, parseEnv, workerSchema } from '../../src/config/env.js';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../../src/shared/search-attributes.js';

interface Service {
  image?: string;
  build?: string | { context: string; dockerfile?: string };
  command?: string[];
  restart?: string;
  environment?: Record<string, string>;
  depends_on?: string[] | Record<string, { condition: string }>;
  ports?: string[];
  volumes?: string[];
}

const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = Object.entries(compose.services);
/** One-shot set-up containers: they run to completion, so they must not restart. */
const ONE_SHOT = new Set(['temporal-setup']);

/** `${VAR:?message}` and `${VAR}` placeholders, replaced by a valid value for the check. */
function resolvePlaceholders(env: Record<string, string>): Record<string, string> {
  const samples: Record<string, string> = { CREDENTIALS_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`, ADMIN_TOKEN: 'x'.repeat(32) };
  return Object.fromEntries(
    Object.entries(env).map(([k, v]) => {
      const ref = /^\$\{(\w+)(:?[?-][^}]*)?\}$/.exec(String(v));
      return [k, ref ? (samples[ref[1]!] ?? '') : String(v)];
    }),
  );
}

describe('docker-compose.yml', () => {
  it('has the compose structure, known images with tags and build contexts that exist', () => {
    expect(services.length).toBeGreaterThan(0);
    for (const [name, s] of services) {
      expect(s.image !== undefined || s.build !== undefined, `${name}: image or build`).toBe(true);
      if (s.image) expect(s.image, `${name}: image pinned to a tag`).toMatch(/^[a-z0-9./_-]+:[A-Za-z0-9._-]+$/);
      if (s.build) {
        const context = typeof s.build === 'string' ? s.build : s.build.context;
        const dockerfile = typeof s.build === 'string' ? 'Dockerfile' : (s.build.dockerfile ?? 'Dockerfile');
        expect(existsSync(path.join(context, dockerfile)), `${name}: ${context}/${dockerfile}`).toBe(true);
      }
      const deps = Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {});
      for (const d of deps) expect(compose.services, `${name} depends on ${d}`).toHaveProperty(d);
      for (const p of s.ports ?? []) expect(p, `${name}: port mapping`).toMatch(/^\d+:\d+$/);
    }
  });

  it('gives every long-running service a restart policy', () => {
    for (const [name, s] of services) {
      if (ONE_SHOT.has(name)) expect(s.restart ?? 'no', name).toBe('no');
      else expect(['always', 'unless-stopped', 'on-failure'], `${name}: restart`).toContain(s.restart);
    }
  });

  it("runs the image's compiled entry points, with settings their process's schema knows and accepts", () => {
    const schemaOf: Record<string, typeof apiSchema | typeof workerSchema> = { 'dist/api/main.js': apiSchema, 'dist/workers/main.js': workerSchema };
    const own = services.filter(([, s]) => s.build !== undefined);
    expect(own.map(([n]) => n).sort()).toEqual(['api', 'worker', 'worker-erp']);
    for (const [name, s] of own) {
      const [node, ...args] = s.command ?? [];
      const entry = args.at(-1);
      expect(node, name).toBe('node');
      // Between node and the entry point: only V8 heap sizing (docs/operations.md, Worker memory).
      for (const flag of args.slice(0, -1)) expect(flag, `${name}: node flag`).toMatch(/^--max-old-space-size=\d+$/);
      expect(entry, name).toMatch(/^dist\/.+\.js$/);
      // The compiled file comes from this source file.
      expect(existsSync(entry!.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts')), `${name}: ${entry}`).toBe(true);
      const schema = schemaOf[entry!];
      expect(schema, `${name}: ${entry} is the API or the worker`).toBeDefined();
      const env = s.environment ?? {};
      expect(Object.keys(env).filter((k) => !(k in schema!.shape)), `${name}: variables its process does not read (docs/configuration.md)`).toEqual([]);
      expect(() => parseEnv(schema!, resolvePlaceholders(env)), name).not.toThrow();
    }
  });

  it("registers every search attribute the runs carry, and runs Temporal with fairness on", () => {
    const setup = (compose.services['temporal-setup']?.command ?? []).join(' ');
    const registered = /for sa in ([\w ]+); do/.exec(setup)?.[1]?.split(' ') ?? [];
    expect(registered.sort()).toEqual(CUSTOM_SEARCH_ATTRIBUTES.map((a) => a.name).sort());
    const temporal = compose.services.temporal!;
    const mount = (temporal.volumes ?? []).map((v) => v.split(':')).find(([, inside]) => inside?.endsWith(String(temporal.environment?.DYNAMIC_CONFIG_FILE_PATH)));
    expect(mount, 'the dynamic config file is mounted where DYNAMIC_CONFIG_FILE_PATH points').toBeDefined();
    const dynamicConfig = parse(readFileSync(mount![0]!, 'utf8')) as Record<string, { value: unknown }[]>;
    expect(dynamicConfig['matching.enableFairness']?.[0]?.value).toBe(true);
  });

  it('names, in the Dockerfile, only files that exist', () => {
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) expect(existsSync(src), `COPY ${src}`).toBe(true);
    expect(dockerfile).toMatch(/^FROM node:(22|24)[\w.-]*/m);
    expect(dockerfile).toMatch(/^USER node$/m);
  });
});
