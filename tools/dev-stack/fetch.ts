/**
 * The stack's jars: Kafka and Apicurio from Maven Central, fetched once with `mvn` (tools/dev-stack/pom.xml)
 * into DIST_DIR and shared by every stack dir.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DIST_DIR, POM } from './paths.js';
import { withLock, type Say } from './process.js';

export const KAFKA_VERSION = '4.1.1';
export const APICURIO_VERSION = '3.0.9';

export function kafkaLibs(): string {
  return path.join(DIST_DIR, 'kafka', 'libs');
}

function registryHome(): string {
  return path.join(DIST_DIR, 'apicurio');
}

/** 3.0.x ships Quarkus' legacy-jar layout: <name>-runner.jar + lib/ (3.3.x is fast-jar but needs Java 21). */
export function registryJar(): string {
  return path.join(registryHome(), `apicurio-registry-app-${APICURIO_VERSION}-runner.jar`);
}

export function artifactsPresent(): boolean {
  return fs.existsSync(path.join(kafkaLibs(), `kafka_2.13-${KAFKA_VERSION}.jar`)) && fs.existsSync(registryJar());
}

/** Downloads Kafka and Apicurio from Maven Central into DIST_DIR unless already there. */
export async function ensureArtifacts(say: Say): Promise<void> {
  if (artifactsPresent()) return;
  await withLock(path.join(path.dirname(DIST_DIR), '.dist.lock'), 'download', async () => {
    if (artifactsPresent()) return;
    // Always said, even when quiet: a download of minutes must not look like a hang.
    process.stdout.write(`[stack] fetching Kafka ${KAFKA_VERSION} + Apicurio ${APICURIO_VERSION} with Maven into ${DIST_DIR} ...\n`);
    const t0 = Date.now();
    // a half-unpacked tree would confuse the unpack markers: start clean
    fs.rmSync(DIST_DIR, { recursive: true, force: true });
    // Maven prints ANSI colours even with -B: its output is captured and shown only on failure.
    const res = spawnSync('mvn', ['-q', '-B', '-Dstyle.color=never', '-f', POM, `-Dstack.home=${DIST_DIR}`, 'process-resources'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    if (res.error) throw new Error(`could not run mvn (is Maven installed?): ${res.error.message}`);
    if (res.status !== 0) throw new Error(`mvn exited with ${res.status} while fetching the stack artifacts:\n${res.stdout}\n${res.stderr}`);
    if (!artifactsPresent()) throw new Error(`mvn finished but the artifacts are not in ${DIST_DIR}`);
    say(`artifacts ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });
}
