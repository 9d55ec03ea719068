/**
 * (d) The incumbent: Kannel (Debian's `kannel` package) — bearerbox with a spool store + smsbox —
 * takes the same messages over HTTP sendsms and submits them over SMPP to the same simulator;
 * receipts come back as DLR callbacks (dlr-mask 3) to a local HTTP listener. Loopback only.
 * Skipped, with the reason printed, when bearerbox/smsbox are not installed
 * (`apt-get install -y kannel`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { freePorts } from '../../../tools/dev-stack/stack.js';
import { benchRecord, sleep, spawnRole } from '../common.js';
import type { BenchContext } from '../context.js';
import { monitor, throughput } from '../monitor.js';
import { UNTHROTTLED } from './ceilings.js';

const S = '(d) Kannel (incumbent)';
const BEARERBOX = '/usr/sbin/bearerbox';
const SMSBOX = '/usr/sbin/smsbox';
/** Four binds, each with a window of 10 — the connector's own SMPP_SESSIONS trx:4 × SMPP_WINDOW 10. */
const SMSC_BINDS = [1, 2, 3, 4];

function config(dir: string, p: { admin: number; smsbox: number; sendsms: number; sim: number }): string {
  return `
group = core
admin-port = ${p.admin}
admin-password = bench
status-password = bench
admin-allow-ip = "127.0.0.1"
box-allow-ip = "127.0.0.1"
smsbox-port = ${p.smsbox}
log-file = "${dir}/bearerbox.log"
log-level = 2
store-type = spool
store-location = "${dir}/spool"
dlr-storage = internal

${SMSC_BINDS.map(
  () => `group = smsc
smsc = smpp
smsc-id = sim
host = 127.0.0.1
port = ${p.sim}
transceiver-mode = true
smsc-username = test
smsc-password = secret
system-type = ""
source-addr-ton = 5
source-addr-npi = 0
dest-addr-ton = 1
dest-addr-npi = 1
max-pending-submits = 10
enquire-link-interval = 30

`,
).join('')}group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = ${p.smsbox}
sendsms-port = ${p.sendsms}
log-file = "${dir}/smsbox.log"
log-level = 2

group = sendsms-user
username = bench
password = bench
max-messages = 1
concatenation = false

group = sms-service
keyword = default
text = "no service"
`;
}

export async function kannel(ctx: BenchContext): Promise<void> {
  ctx.report.section(S);
  if (!existsSync(BEARERBOX) || !existsSync(SMSBOX)) {
    return ctx.report.skip(S, `${BEARERBOX} / ${SMSBOX} not installed (Debian package: apt-get install -y kannel)`);
  }
  const dir = path.join(ctx.workDir, 'kannel');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'spool'), { recursive: true });
  const sim = spawnRole('simulator', { args: [JSON.stringify({ behaviour: UNTHROTTLED })] });
  let dlrs = 0;
  const dlrServer = http.createServer((req, res) => {
    dlrs++;
    req.resume();
    res.end('ok');
  });
  await new Promise<void>((r) => dlrServer.listen(0, '127.0.0.1', () => r()));
  const dlrPort = (dlrServer.address() as AddressInfo).port;
  const boxes: ChildProcess[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  try {
    const { port } = (await sim.ready) as { port: number };
    const [admin, smsbox, sendsms] = (await freePorts(3)) as [number, number, number];
    const conf = path.join(dir, 'kannel.conf');
    writeFileSync(conf, config(dir, { admin, smsbox, sendsms, sim: port }));
    const bearer = spawn(BEARERBOX, [conf], { stdio: 'ignore' });
    boxes.push(bearer);
    await sleep(1000);
    const sbox = spawn(SMSBOX, [conf], { stdio: 'ignore' });
    boxes.push(sbox);
    // bound to the simulator and sendsms listening
    const deadline = Date.now() + 30_000;
    for (;;) {
      const s = await sim.request<{ bindsBySystemId: Record<string, number> }>('stats');
      const up = await get(agent, sendsms, '/').then(
        () => true,
        () => false,
      );
      if ((s.bindsBySystemId['test'] ?? 0) > 0 && up) break;
      if (Date.now() > deadline) throw new Error(`Kannel did not bind / listen within 30 s (see ${dir}/bearerbox.log)`);
      await sleep(250);
    }
    const total = ctx.quick ? 2_000 : 20_000;
    let accepted = 0;
    let refused = 0;
    const t0 = Date.now();
    const pushing = (async () => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (next < total) {
            const r = benchRecord(next++, `${ctx.runTag}-kannel`);
            const q = new URLSearchParams({
              username: 'bench',
              password: 'bench',
              from: r.from,
              to: r.to,
              text: r.text,
              'dlr-mask': '3',
              'dlr-url': `http://127.0.0.1:${dlrPort}/dlr?id=${r.id}&s=%d`,
            });
            const status = await get(agent, sendsms, `/cgi-bin/sendsms?${q}`).catch(() => 0);
            if (status === 202 || status === 200) accepted++;
            else refused++;
          }
        }),
      );
    })();
    let lastDlrs = 0;
    let lastDlrChange = Date.now();
    const { samples, timedOut } = await monitor({
      sample: async () => {
        const s = await sim.request<Record<string, number>>('stats');
        return { submitted: s['acceptedSubmits']!, dlrs, accepted };
      },
      pids: { bearerbox: bearer.pid!, smsbox: sbox.pid!, simulator: sim.pid, kafka: ctx.kafkaPid },
      // A few receipts never come back as DLR callbacks (counted below): stop once submits are
      // complete and the DLR count has not moved for 10 s.
      done: (c) => {
        if (c['dlrs']! !== lastDlrs) [lastDlrs, lastDlrChange] = [c['dlrs']!, Date.now()];
        return c['submitted']! >= total && (c['dlrs']! >= total || Date.now() - lastDlrChange > 10_000);
      },
      timeoutMs: 60_000 + total * 5,
    });
    await pushing;
    if (timedOut) ctx.report.note(`${S}: timed out (submitted ${samples.at(-1)?.counts['submitted']}, DLRs ${dlrs}, HTTP refused ${refused})`);
    const sub = throughput(samples, 'submitted', total);
    const dl = throughput(samples, 'dlrs', Math.min(total, dlrs));
    const http202 = throughput(samples, 'accepted', total);
    const how = `${total} of the same messages via HTTP sendsms (64 concurrent keep-alive clients, dlr-mask 3) → smsbox → bearerbox (store-type spool) → 4 SMPP transceiver binds (smsc groups, max-pending-submits 10 each) → the same unthrottled simulator; steady 10–90 %`;
    ctx.report.add(S, 'submits/s', sub.steady, 'msg/s', `accepted submit_sm counted by the simulator; ${how}`);
    ctx.report.add(S, 'HTTP sendsms accepted/s', http202.steady, 'req/s', `202 answers from smsbox (${refused} refused)`);
    ctx.report.add(S, 'DLR callbacks/s', dl.steady, 'msg/s', `dlr-url HTTP callbacks received (receipts turned into events); ${dlrs} of ${total} came back`);
    const cpu = (sub.cpuPer1000['bearerbox'] ?? 0) + (sub.cpuPer1000['smsbox'] ?? 0);
    ctx.report.add(
      S,
      'CPU per 1,000',
      cpu,
      'CPU-s',
      `bearerbox ${sub.cpuPer1000['bearerbox']!.toFixed(3)} + smsbox ${sub.cpuPer1000['smsbox']!.toFixed(3)} (/proc) over the submit steady window; simulator ${sub.cpuPer1000['simulator']!.toFixed(3)}; wall ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
  } finally {
    for (const b of boxes.reverse()) {
      b.kill('SIGTERM');
      await Promise.race([new Promise((r) => b.once('exit', r)), sleep(10_000)]);
      if (b.exitCode === null && b.signalCode === null) b.kill('SIGKILL');
    }
    agent.destroy();
    dlrServer.close();
    await sim.stop();
  }
}

function get(agent: http.Agent, port: number, pathAndQuery: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathAndQuery, agent, timeout: 30_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}
