/**
 * The pipeline's SubmitPort on top of the session pool: pick the key's session, wait (abortably)
 * for room in its admission budget, submit. No session bound → `not-sent`, and the submit loop
 * waits and asks again: intake effectively pauses until a session binds.
 */
import type { Admission } from '../pipeline/admission.js';
import type { SessionAffinity, SubmitPort } from '../pipeline/submit-loop.js';
import type { SmppPool } from '../smpp/session/pool.js';
import type { SubmitParams, SubmitResult } from '../smpp/protocol/types.js';

export function poolSubmitPort(pool: SmppPool, admission: Admission): SubmitPort {
  return {
    async submit(key: string, params: SubmitParams, signal: AbortSignal, stillAllowed?: () => boolean, affinity?: SessionAffinity): Promise<SubmitResult> {
      const session = pool.sessionForKey(key, affinity?.sessionId);
      if (!session) return { kind: 'not-sent', reason: 'not-bound', sessionId: '' };
      const waiting = admission.enter(session.id, signal);
      if (waiting) await waiting;
      try {
        if (stillAllowed && !stillAllowed()) return { kind: 'not-sent', reason: 'account-paused', sessionId: session.id };
        if (affinity) affinity.sessionId = session.id;
        return await session.submit(params);
      } finally {
        admission.leave(session.id);
      }
    },
  };
}
