/**
 * Per-session admission: at most `limit` submits handed to one session at a time (its window plus
 * a small queue). Why: a submit queued inside a session cannot be taken back, so an unbounded
 * queue there would keep sending records after a rebalance or shutdown aborted them. Waiting
 * here instead is abortable.
 *
 * Two ways in. `enter` waits for one given session (the later segments of a concatenated message,
 * which must follow the first). `enterAny` takes whichever session has the most room, and when
 * none has any, waits in one queue shared by all sessions (issue 19): a record waiting for ONE
 * busy session while another sat idle is how sessions starved at the end of every fetch round
 * (each session had to work off its own share of the round alone, while the next round waited
 * for the last record; since the rounds overlap, design.md §5.3, still whenever records run short). A freed slot goes to its session's own waiters
 * first (a message half on the wire), then to the oldest waiter for any session.
 *
 * Lanes (issue 21): a waiter for any session is `urgent` or `bulk`. A freed slot goes to the oldest
 * urgent waiter, except that bulk keeps a minimum share of the grants while both wait (a credit
 * that grows by share ÷ (1 − share) per urgent grant), so a flood of urgent records never starves
 * a campaign. A bulk record may not take a free slot at once while urgent ones are parked: it
 * would take the slot a woken urgent waiter is about to claim.
 */
import { OldestFirst } from './oldest-first.js';

/** Which input a record came from: `urgent` overtakes `bulk` for session slots. */
export type Lane = 'urgent' | 'bulk';

interface Waiter {
  /** The session it waits for; null: the first session of its candidates with room. */
  readonly sessionId: string | null;
  /** Its lane, when it waits for any session. */
  readonly lane: Lane;
  readonly signal: AbortSignal;
  readonly admit: () => void;
  readonly reject: (reason: unknown) => void;
}

/** Parked waiters in arrival order, and a cursor to their oldest (see oldest-first.ts). */
interface WaiterQueue {
  readonly parked: Set<Waiter>;
  readonly oldest: OldestFirst<Waiter>;
}

function newQueue(): WaiterQueue {
  const parked = new Set<Waiter>();
  return { parked, oldest: new OldestFirst(() => parked.values()) };
}

export class Admission {
  private readonly counts = new Map<string, number>();
  /**
   * Waiters per session in arrival order. A Set, not an array: a backlog can park thousands of
   * records here, and an abort (rebalance, shutdown) removes every one of them — indexOf + splice
   * per waiter made that quadratic.
   */
  private readonly waiters = new Map<string, WaiterQueue>();
  /** Waiters for any session (`enterAny`), per lane, in arrival order. */
  private readonly anyWaiters: Record<Lane, WaiterQueue> = { urgent: newQueue(), bulk: newQueue() };
  /** Grants owed to bulk while urgent waiters are served (see the file comment). */
  private bulkCredit = 0;
  /** Urgent waiters woken for a freed slot that have not claimed it yet. */
  private urgentWaking = 0;
  private readonly creditPerUrgentGrant: number;
  /**
   * Waiters by the signal that can abort them, with one abort listener per signal: a batch's
   * records share its signal, and an EventTarget listener added and removed per waiting record was
   * ~2 % of the connector's CPU under a backlog.
   */
  private readonly bySignal = new WeakMap<AbortSignal, Set<Waiter>>();

  /**
   * `limit` submits per session at a time; `bulkMinShare` (0 ≤ share < 1, default 0.1) of the
   * grants go to bulk waiters while urgent ones wait too.
   */
  constructor(
    private readonly limit: number,
    bulkMinShare = 0.1,
  ) {
    if (!(bulkMinShare >= 0 && bulkMinShare < 1)) throw new RangeError(`bulk minimum share must be in [0, 1), got ${bulkMinShare}`);
    this.creditPerUrgentGrant = bulkMinShare / (1 - bulkMinShare);
  }

  /**
   * Takes a slot of this session: at once when it has room (undefined — the hot path: no promise,
   * no release closure per submit), else a promise that resolves once the slot is taken. Every
   * slot taken is given back with exactly one `leave`.
   */
  enter(sessionId: string, signal: AbortSignal): Promise<void> | undefined {
    if (this.tryTake(sessionId)) return undefined;
    return this.enterWhenRoom(sessionId, signal);
  }

  /**
   * Takes a slot of whichever of `candidates()` has the most room (the earliest of them on a tie)
   * and returns its id — at once when one has room, else a promise. `candidates` is asked again
   * after every wait (sessions come and go); none left → undefined, and no slot was taken.
   */
  enterAny(candidates: () => readonly string[], signal: AbortSignal, lane: Lane = 'bulk'): string | undefined | Promise<string | undefined> {
    const ids = candidates();
    if (ids.length === 0) return undefined;
    if (lane === 'urgent' || (this.anyWaiters.urgent.parked.size === 0 && this.urgentWaking === 0)) {
      const roomiest = this.roomiest(ids);
      if (roomiest !== undefined) return roomiest;
    }
    return this.enterAnyWhenRoom(candidates, signal, lane);
  }

  leave(sessionId: string): void {
    this.counts.set(sessionId, (this.counts.get(sessionId) ?? 1) - 1);
    this.admitNext(sessionId);
  }

  outstanding(sessionId: string): number {
    return this.counts.get(sessionId) ?? 0;
  }

  /** Submits parked for a slot of this session, or (null) of any session, of one lane or both (tests, metrics). */
  waiting(sessionId: string | null, lane?: Lane): number {
    if (sessionId !== null) return this.waiters.get(sessionId)?.parked.size ?? 0;
    if (lane !== undefined) return this.anyWaiters[lane].parked.size;
    return this.anyWaiters.urgent.parked.size + this.anyWaiters.bulk.parked.size;
  }

  private tryTake(sessionId: string): boolean {
    const count = this.counts.get(sessionId) ?? 0;
    if (count >= this.limit) return false;
    this.counts.set(sessionId, count + 1);
    return true;
  }

  /** Takes a slot of the candidate with the fewest outstanding submits, if one has room. */
  private roomiest(ids: readonly string[]): string | undefined {
    let best: string | undefined;
    let bestCount = this.limit;
    for (const id of ids) {
      const count = this.counts.get(id) ?? 0;
      if (count < bestCount) {
        best = id;
        bestCount = count;
      }
    }
    if (best !== undefined) this.counts.set(best, bestCount + 1);
    return best;
  }

  private async enterWhenRoom(sessionId: string, signal: AbortSignal): Promise<void> {
    do {
      signal.throwIfAborted();
      await this.park(sessionId, 'bulk', signal);
    } while (!this.tryTake(sessionId));
  }

  private async enterAnyWhenRoom(candidates: () => readonly string[], signal: AbortSignal, lane: Lane): Promise<string | undefined> {
    for (;;) {
      signal.throwIfAborted();
      await this.park(null, lane, signal);
      if (lane === 'urgent') this.urgentWaking -= 1;
      const ids = candidates();
      if (ids.length === 0) {
        // the slot this waiter was woken for is not used: hand the wake-up on
        this.admitOldestAny();
        return undefined;
      }
      const roomiest = this.roomiest(ids);
      if (roomiest !== undefined) {
        // It may have taken another session's room than the one that woke it: that one's room
        // is then still free, and would stay unused until its session frees another slot.
        if (this.waiting(null) > 0 && ids.some((id) => this.outstanding(id) < this.limit)) this.admitOldestAny();
        return roomiest;
      }
    }
  }

  /** Parks for one session's slot, or (null) for any session's in its lane's queue. */
  private park(sessionId: string | null, lane: Lane, signal: AbortSignal): Promise<void> {
    return new Promise<void>((admit, reject) => {
      const waiter: Waiter = { sessionId, lane, signal, admit, reject };
      this.queueOf(waiter).parked.add(waiter);
      let parked = this.bySignal.get(signal);
      if (!parked) {
        this.bySignal.set(signal, (parked = new Set()));
        signal.addEventListener('abort', () => this.abortAll(signal), { once: true });
      }
      parked.add(waiter);
    });
  }

  private queueOf(waiter: Waiter): WaiterQueue {
    if (waiter.sessionId === null) return this.anyWaiters[waiter.lane];
    let queue = this.waiters.get(waiter.sessionId);
    if (!queue) this.waiters.set(waiter.sessionId, (queue = newQueue()));
    return queue;
  }

  /** A slot of this session was freed: its own oldest waiter, else the oldest waiter for any session. */
  private admitNext(sessionId: string): void {
    if (!this.admitOldest(this.waiters.get(sessionId))) this.admitOldestAny();
  }

  /** The oldest urgent waiter, unless bulk is owed a grant (or no urgent one waits). */
  private admitOldestAny(): void {
    const { urgent, bulk } = this.anyWaiters;
    if (bulk.parked.size > 0 && (urgent.parked.size === 0 || this.bulkCredit >= 1)) {
      if (urgent.parked.size > 0) this.bulkCredit -= 1;
      this.admitOldest(bulk);
    } else if (this.admitOldest(urgent)) {
      this.urgentWaking += 1;
      if (bulk.parked.size > 0) this.bulkCredit += this.creditPerUrgentGrant;
    }
    if (bulk.parked.size === 0) this.bulkCredit = 0;
  }

  private admitOldest(queue: WaiterQueue | undefined): boolean {
    const next = queue?.oldest.next();
    if (!next) return false;
    queue!.parked.delete(next);
    this.bySignal.get(next.signal)?.delete(next);
    next.admit();
    return true;
  }

  private abortAll(signal: AbortSignal): void {
    const parked = this.bySignal.get(signal);
    this.bySignal.delete(signal);
    for (const waiter of parked ?? []) {
      (waiter.sessionId === null ? this.anyWaiters[waiter.lane] : this.waiters.get(waiter.sessionId))?.parked.delete(waiter);
      waiter.reject(signal.reason);
    }
  }
}
