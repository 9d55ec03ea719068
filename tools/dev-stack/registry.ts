/**
 * The stack's schema registry: Apicurio Registry with its Confluent-compatible API, its schemas in a
 * file-backed H2 database so they survive a registry restart.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { registryJar } from './fetch.js';
import { STACK_START_TIMEOUT_MS } from '../../src/cli-dev.js';
import { isOurProcess, marker, portFree, readPid, spawnDetached, waitReady, type Say } from './process.js';

const REGISTRY_START_TIMEOUT_MS = Number(process.env['KSC_STACK_REGISTRY_TIMEOUT_MS'] ?? STACK_START_TIMEOUT_MS);

/** What the registry needs from the stack's saved state. */
export interface RegistrySettings {
  registryPort: number;
  /** Quarkus' management port (health, metrics). */
  registryManagementPort: number;
}

/** The Confluent-compatible base URL clients are given. */
export function registryUrl(port: number): string {
  return `http://127.0.0.1:${port}/apis/ccompat/v7`;
}

/** Starts the registry unless it already runs in `dir`; resolves once it lists subjects. Returns its pid. */
export async function startRegistryProcess(dir: string, st: RegistrySettings, say: Say): Promise<number> {
  const existing = readPid(dir, 'registry');
  if (existing !== undefined && isOurProcess(existing, dir, 'registry')) {
    await waitReady(dir, 'registry', existing, () => registryAnswers(st.registryPort), REGISTRY_START_TIMEOUT_MS);
    say(`registry already running (pid ${existing})`);
    return existing;
  }
  for (const p of [st.registryPort, st.registryManagementPort]) {
    if (!(await portFree(p))) throw new Error(`registry port ${p} is in use by another process; stop it or use another --dir`);
  }
  const rdir = path.join(dir, 'registry');
  fs.mkdirSync(path.join(rdir, 'tmp'), { recursive: true });
  const t0 = Date.now();
  const pid = spawnDetached(dir, 'registry', [
    marker(dir, 'registry'),
    '-Xms64m',
    '-Xmx384m',
    '-XX:+UseSerialGC',
    '-XX:MaxMetaspaceSize=256m',
    '-Djava.awt.headless=true',
    `-Djava.io.tmpdir=${path.join(rdir, 'tmp')}`,
    '-Dquarkus.http.host=127.0.0.1',
    `-Dquarkus.http.port=${st.registryPort}`,
    '-Dquarkus.management.host=127.0.0.1',
    `-Dquarkus.management.port=${st.registryManagementPort}`,
    // file-backed H2: schemas survive a registry restart (the default is an in-memory H2)
    '-Dapicurio.storage.kind=sql',
    '-Dapicurio.storage.sql.kind=h2',
    `-Dapicurio.datasource.url=jdbc:h2:file:${path.join(rdir, 'db')}`,
    '-Dapicurio.datasource.jdbc.initial-size=2',
    '-Dapicurio.datasource.jdbc.min-size=2',
    '-Dapicurio.datasource.jdbc.max-size=20',
    `-Dapicurio.storage.snapshot.location=${path.join(rdir, 'tmp')}`,
    // let tests clean up subjects (DELETE) as they would on a Confluent registry
    '-Dapicurio.rest.deletion.artifact.enabled=true',
    '-Dapicurio.rest.deletion.artifact-version.enabled=true',
    '-Dapicurio.rest.deletion.group.enabled=true',
    '-Dquarkus.http.access-log.enabled=false',
    '-jar',
    registryJar(),
  ]);
  say(`registry starting (pid ${pid}) on 127.0.0.1:${st.registryPort}, management ${st.registryManagementPort} ...`);
  await waitReady(dir, 'registry', pid, () => registryAnswers(st.registryPort), REGISTRY_START_TIMEOUT_MS);
  say(`registry up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${registryUrl(st.registryPort)}`);
  return pid;
}

async function registryAnswers(port: number): Promise<boolean> {
  try {
    const res = await fetch(`${registryUrl(port)}/subjects`, { signal: AbortSignal.timeout(3000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}
