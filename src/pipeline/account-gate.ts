/**
 * The account gate: account-level failures (0x103 insufficient credit, credentials refused) pause
 * intake instead of turning the backlog into REJECTED events.
 *
 * While paused, every submitter waits here; every `probeIntervalMs` one waiter is let through as a
 * probe. The probe's outcome decides: accepted → open for everyone; the same account error → stay
 * paused (the probe goes back to waiting, its record is not marked failed).
 *
 * When the interval passes with nobody waiting (a route whose traffic failed over elsewhere), the
 * probe is due: the next submitter to pass, or the one routing claims (`claimProbe`), goes at once.
 * A probe is never made to wait for its turn here: a record waiting up to `probeIntervalMs` would
 * hold its fetch round — every partition's records — that long (the failover benchmark saw 12–15 s
 * with nothing sent on either route).
 */
export type GateState = { open: true } | { open: false; reason: string; since: number };

export class AccountGate {
  private state: GateState = { open: true };
  private readonly waiters: Array<{ resolve: (probe: boolean) => void; reject: (e: unknown) => void }> = [];
  private probeTimer: NodeJS.Timeout | null = null;
  private probeInFlight = false;
  /** The interval passed while nobody waited: the next submitter is the probe (see the file comment). */
  private probeDue = false;
  private readonly listeners = new Set<(state: GateState) => void>();

  constructor(private readonly probeIntervalMs: number) {}

  get current(): GateState {
    return this.state;
  }

  onChange(listener: (state: GateState) => void): void {
    this.listeners.add(listener);
  }

  /**
   * `false` at once when the gate is open (the hot path: no promise, no microtask per submit);
   * else a promise that resolves `false` to go ahead normally, `true` when the caller is this
   * pause's probe.
   */
  pass(signal?: AbortSignal): false | Promise<boolean> {
    if (this.state.open) return false;
    if (this.claimProbe()) return Promise.resolve(true);
    return new Promise<boolean>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal!.reason);
      };
      // The listener goes when the waiter is let through: a record that waits at the gate many
      // times during one long pause must not pile listeners onto its batch's signal.
      const waiter = {
        resolve: (probe: boolean) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(probe);
        },
        reject,
      };
      this.waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * An account error. `fromProbe`: the refused submit was this pause's probe — the next probe is
   * scheduled. Refusals of submits that were already on the wire when the pause began change
   * nothing: counting them as probe answers let a second probe go while the first was in flight.
   */
  pause(reason: string, fromProbe = false, now = Date.now()): void {
    if (!this.state.open) {
      if (!fromProbe) return;
      this.probeInFlight = false;
      this.scheduleProbe();
      return;
    }
    this.state = { open: false, reason, since: now };
    this.emit();
    this.scheduleProbe();
  }

  /** A submit was accepted: the account works, let everyone through. */
  succeeded(): void {
    this.probeInFlight = false;
    this.probeDue = false;
    if (this.state.open) return;
    this.state = { open: true };
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = null;
    for (const w of this.waiters.splice(0)) w.resolve(false);
    this.emit();
  }

  /**
   * Paused, and its probe is due with nobody to make it. Routing (routed-submit.ts) sends a request
   * here then, so that a route whose traffic failed over still learns when its account works again:
   * without a waiter the pause would never be probed.
   */
  wantsProbe(): boolean {
    return !this.state.open && this.probeDue && !this.probeInFlight;
  }

  /**
   * Takes the due probe for the caller (true), who then submits at once as the probe and reports
   * its outcome (`succeeded`, `pause(…, true)` or `probeInconclusive`). Routing claims it when it
   * chooses a request to probe, so no other request takes it on the way.
   */
  claimProbe(): boolean {
    if (!this.wantsProbe()) return false;
    this.probeDue = false;
    this.probeInFlight = true;
    return true;
  }

  /** The probe ended without telling us anything about the account (e.g. a timeout). */
  probeInconclusive(): void {
    this.probeInFlight = false;
    if (!this.state.open) this.scheduleProbe();
  }

  private scheduleProbe(): void {
    if (this.probeTimer || this.probeInFlight || this.probeDue) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      const probe = this.waiters.shift();
      if (!probe) {
        this.probeDue = true;
        return;
      }
      this.probeInFlight = true;
      probe.resolve(true);
    }, this.probeIntervalMs);
  }

  close(): void {
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = null;
  }

  private emit(): void {
    for (const l of this.listeners) l(this.state);
  }
}
