/**
 * Bench role (a): the smallest node-smpp client with a window — bind_transceiver, then submit_sm
 * as fast as the window allows, round-robin over `sessions` binds. No Kafka, no pacing.
 * Request `run` { port, count, window, sessions } → { seconds, cpuSeconds }.
 */
import { smpp, type LibrarySession } from '../../../src/smpp/session/library.js';
import { serveRole } from '../common.js';

function bind(port: number): Promise<LibrarySession> {
  return new Promise((resolve, reject) => {
    const session = smpp.connect({ host: '127.0.0.1', port }, () => {
      session.send(new smpp.PDU('bind_transceiver', { system_id: 'test', password: 'secret' }), (resp) =>
        resp.command_status === 0 ? resolve(session) : reject(new Error(`bind ${resp.command_status}`)),
      );
    });
    session.on('error', reject);
  });
}

async function run(p: { port: number; count: number; window: number; sessions: number }): Promise<unknown> {
  const sessions = await Promise.all(Array.from({ length: p.sessions }, () => bind(p.port)));
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const perSession = Math.ceil(p.count / p.sessions);
  await Promise.all(
    sessions.map(
      (session, s) =>
        new Promise<void>((resolve) => {
          let sent = 0;
          let done = 0;
          const total = Math.min(perSession, p.count - s * perSession);
          const pump = (): void => {
            while (sent < total && sent - done < p.window) {
              const i = s * perSession + sent++;
              session.send(
                new smpp.PDU('submit_sm', {
                  source_addr_ton: 5,
                  source_addr: 'ACME',
                  dest_addr_ton: 1,
                  dest_addr_npi: 1,
                  destination_addr: `3934${String(i).padStart(8, '0')}`,
                  registered_delivery: 1,
                  data_coding: 0,
                  short_message: Buffer.from(`Your code is ${100000 + i}. It expires in 10 minutes. Ref ${i}`),
                }),
                () => {
                  done++;
                  if (done === total) resolve();
                  else pump();
                },
              );
            }
          };
          if (total <= 0) resolve();
          else pump();
        }),
    ),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  for (const s of sessions) s.destroy();
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

serveRole({ run: (p) => run(p as { port: number; count: number; window: number; sessions: number }) }, async () => undefined);
process.send?.({ type: 'ready' });
