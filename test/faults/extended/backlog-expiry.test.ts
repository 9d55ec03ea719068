// Invariant (docs/reliability.md §10, contract §1 + §6): a backlog that waits while the SMSC is
// down for longer than the records' validUntil → no record is sent after its validity (here: none
// at all, the SMSC being down for the whole validity), every record ends EXPIRED (source
// CONNECTOR), and the connector's RSS stays bounded while it holds the backlog.
// Scale (by hand, not CI): 100k records, SMSC down 3 min, validUntil 2 min after the first
// record. Knobs: KSC_BACKLOG_RECORDS (e.g. 20000), KSC_BACKLOG_DOWN_MS / KSC_BACKLOG_VALID_MS
// (1800000 / 1200000 for the full-size 30/20-minute version), KSC_BACKLOG_RSS_MAX_MB (bound, 512).
// "SMSC down" = a TCP fault proxy in front of the simulator refusing every connection (the
// connector never binds); the connector is a child process, its RSS read from /proc every 5 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../../../tools/dev-stack/stack.js';
import { loadConfig } from '../../../src/config.js';
import { AvroCodec } from '../../../src/kafka/codec.js';
import { startSimulator } from '../../../src/simulator/simulator.js';
import { startConnectorProcess, type ConnectorProcess } from '../../helpers/child.js';
import { FaultProxy } from '../../helpers/fault-proxy.js';
import { LoadGenerator, report } from '../../helpers/fault-oracle.js';
import { delay, envNumber } from '../../helpers/faults.js';
import { collectDelivery, produce, testEnv, waitUntil } from '../../helpers/pipeline.js';
import { testStack, uniqueTopics } from '../../helpers/stack.js';

const RECORDS = envNumber('KSC_BACKLOG_RECORDS', 100_000);
const DOWN_MS = envNumber('KSC_BACKLOG_DOWN_MS', 180_000);
const VALID_MS = envNumber('KSC_BACKLOG_VALID_MS', 120_000);
const RSS_MAX_MB = envNumber('KSC_BACKLOG_RSS_MAX_MB', 512);

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

test(
  `Extended: ${RECORDS} records backlogged while the SMSC is down ${DOWN_MS / 60000} min, validUntil ${VALID_MS / 60000} min → 0 sent after validity, all EXPIRED (CONNECTOR), RSS ≤ ${RSS_MAX_MB} MB`,
  { timeout: DOWN_MS + 1_800_000 },
  async () => {
    assert.ok(VALID_MS < DOWN_MS, 'the SMSC must be down longer than the validity');
    const stack = await testStack();
    const topics = uniqueTopics('backlog-expiry');
    const sim = await startSimulator({ plainPort: 0, recordAccepted: true, behaviour: { receiptDelayMs: 10 } });
    const proxy = await FaultProxy.start({ targetPort: sim.plainPort! });
    proxy.setRefuse(true); // the SMSC is down from the start
    const logDir = mkdtempSync(join(tmpdir(), 'ksc-backlog-'));
    const [httpPort] = (await freePorts(1)) as [number];
    const env = testEnv(stack, topics, proxy.port, { SMPP_SESSIONS: 'trx:2', HTTP_PORT: String(httpPort), LOG_LEVEL: 'info' });
    const config = loadConfig(env);
    const codec = new AvroCodec(config.registry, config.topics);
    let proc: ConnectorProcess | undefined;
    let delivery: Awaited<ReturnType<typeof collectDelivery>> | undefined;
    const rss: Array<{ at: number; mb: number }> = [];
    let sampler: NodeJS.Timeout | undefined;
    try {
      proc = startConnectorProcess(env, join(logDir, 'connector.log'));
      const pid = proc.pid;
      await waitUntil(
        async () => {
          try {
            return (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok;
          } catch {
            return false;
          }
        },
        120000,
        'connector up',
      );
      await delay(3000); // group joined, topics created
      const rssAtStart = rssMb(pid);
      sampler = setInterval(() => rss.push({ at: Date.now(), mb: rssMb(pid) }), 5000);
      await codec.registerContracts();

      // ---- the backlog: every record valid until t0 + VALID_MS
      const t0 = Date.now();
      const validUntil = t0 + VALID_MS;
      const gen = new LoadGenerator(`backlog-${t0}`, { keys: 500, multipartEvery: 10, overrides: () => ({ validUntil }) });
      const records = gen.next(RECORDS);
      for (let i = 0; i < records.length; i += 10_000) {
        await produce(
          stack,
          topics.outbound,
          codec,
          records.slice(i, i + 10_000).map((r) => ({ key: r.key, value: r.value })),
        );
      }
      const produceMs = Date.now() - t0;
      assert.ok(produceMs < VALID_MS / 2, `producing the backlog took ${produceMs} ms, too close to validUntil: shrink KSC_BACKLOG_RECORDS`);

      // ---- the SMSC stays down past the validity, then comes back
      await delay(Math.max(0, t0 + DOWN_MS - Date.now()));
      const bindAttemptsRefused = proxy.stats().refused;
      proxy.setRefuse(false);
      const upAt = Date.now();

      // ---- every record ends (EXPIRED), read from sms.delivery
      delivery = await collectDelivery({ stack, topics, codec });
      const ids = new Set(records.map((r) => r.value.id));
      const summaries = () => delivery!.records.filter((r) => r.value.source === 'SUMMARY' && ids.has(r.value.id));
      let timedOut = false;
      await waitUntil(() => new Set(summaries().map((r) => r.value.id)).size === ids.size, 900000, 'every record summarised').catch(() => {
        timedOut = true;
      });
      const doneAt = Date.now();
      clearInterval(sampler);
      rss.push({ at: Date.now(), mb: rssMb(pid) });

      const events = delivery.records.map((r) => r.value).filter((e) => ids.has(e.id));
      const expiredConnector = new Set(events.filter((e) => e.status === 'EXPIRED' && e.source === 'CONNECTOR').map((e) => e.id));
      const summaryStatus = new Map<string, number>();
      for (const s of summaries()) summaryStatus.set(s.value.status, (summaryStatus.get(s.value.status) ?? 0) + 1);
      const submitted = events.filter((e) => e.status === 'SUBMITTED' && e.source !== 'SUMMARY').length;
      const accepted = sim.acceptedSubmits();
      const sentAfterValidity = accepted.filter((a) => a.at > validUntil).length;
      const lastExpiredAt = Math.max(...events.filter((e) => e.status === 'EXPIRED' && e.source === 'CONNECTOR').map((e) => Number(e.eventAt ?? 0)));
      const maxRss = Math.max(rssAtStart, ...rss.map((s) => s.mb));
      const exitedEarly = proc.child.exitCode !== null || proc.child.signalCode !== null;
      report('EXT-BACKLOG', {
        records: RECORDS,
        smscDownMs: upAt - t0,
        validMs: VALID_MS,
        produceMs,
        bindAttemptsRefused,
        acceptedAtSmsc: accepted.length,
        sentAfterValidity,
        submittedEvents: submitted,
        expiredConnector: expiredConnector.size,
        summaries: Object.fromEntries(summaryStatus),
        allEndedAfterSmscUpMs: doneAt - upAt,
        lastExpiredAfterValidUntilMs: Number.isFinite(lastExpiredAt) && lastExpiredAt > 0 ? lastExpiredAt - validUntil : null,
        rssMb: { start: rssAtStart, max: maxRss, end: rss.at(-1)?.mb, samples: rss.length, bound: RSS_MAX_MB },
        connectorExited: exitedEarly,
        timedOut,
        logs: logDir,
      });
      assert.equal(exitedEarly, false, 'the connector never exited');
      assert.equal(timedOut, false, 'every record has a summary');
      assert.equal(sentAfterValidity, 0, 'nothing sent after its validity');
      assert.equal(accepted.length, 0, 'nothing reached the SMSC: it was down for the whole validity');
      assert.equal(submitted, 0, 'no SUBMITTED event');
      assert.equal(expiredConnector.size, ids.size, 'every record EXPIRED by the connector');
      assert.equal(summaryStatus.get('EXPIRED'), ids.size, 'every summary says EXPIRED');
      assert.ok(maxRss <= RSS_MAX_MB, `RSS peaked at ${maxRss} MB > ${RSS_MAX_MB} MB`);
      proc.kill('SIGTERM');
      assert.equal((await proc.exited).code, 0, 'graceful stop exits 0');
    } finally {
      if (sampler) clearInterval(sampler);
      proc?.kill('SIGKILL');
      await proc?.exited;
      await delivery?.stop().catch(() => undefined);
      await proxy.close();
      await sim.close();
    }
  },
);
