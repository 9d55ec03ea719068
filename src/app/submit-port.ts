/**
 * The pipeline's SubmitPort on top of the session pool: pick a session, wait (abortably) for room
 * in its admission budget, submit. A message's first segment takes whichever ready session has
 * room (a record waiting for its key's busy session while another sat idle starved the sessions,
 * issue 19); the later segments of a concatenated message wait for the session of the first.
 * No session bound → `not-sent`, and the submit loop waits and asks again: intake effectively
 * pauses until a session binds.
 */
import type { Admission, Lane } from '../pipeline/admission.js';
import type { SessionAffinity, SubmitPort } from '../pipeline/submit-loop.js';
import type { SmppPool } from '../smpp/session/pool.js';
import type { SmppSession } from '../smpp/session/session.js';
import type { SubmitParams, SubmitResult } from '../smpp/protocol/types.js';

/** `lane`: which input the records come from; an urgent record is admitted before bulk ones (admission.ts). */
export function poolSubmitPort(pool: SmppPool, admission: Admission, lane: Lane = 'bulk'): SubmitPort {
  /** A session with an admission slot taken for this submit, or undefined (none ready). */
  const admitted = async (key: string, signal: AbortSignal, affinity?: SessionAffinity): Promise<SmppSession | undefined> => {
    if (affinity?.sessionId !== undefined) {
      const session = pool.sessionForKey(key, affinity.sessionId);
      if (!session) return undefined;
      const waiting = admission.enter(session.id, signal);
      if (waiting) await waiting;
      return session;
    }
    const taken = admission.enterAny(() => pool.submitCandidates(key), signal, lane);
    const id = typeof taken === 'string' || taken === undefined ? taken : await taken;
    if (id === undefined) return undefined;
    const session = pool.session(id);
    // removed by a resize while this submit waited: give the slot back and ask again
    if (!session) admission.leave(id);
    return session;
  };
  return {
    async submit(key: string, params: SubmitParams, signal: AbortSignal, stillAllowed?: () => boolean, affinity?: SessionAffinity): Promise<SubmitResult> {
      const session = await admitted(key, signal, affinity);
      if (!session) return { kind: 'not-sent', reason: 'not-bound', sessionId: '' };
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
