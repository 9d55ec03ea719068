/**
 * Bench role: the SMSC simulator in its own process, so its CPU is not the connector's.
 * argv[2] = JSON SimulatorOptions. Requests: stats, setBehaviour, loopDelay (its own stalls, which
 * delay its journal's timestamps), releaseHeldReceipts (ReleaseOptions; answers how many it released).
 */
import { startSimulator } from '../../../src/simulator/simulator.js';
import type { SimulatorOptions } from '../../../src/simulator/simulator.js';
import type { Behaviour } from '../../../src/simulator/behaviour.js';
import type { ReleaseOptions } from '../../../src/simulator/held-receipts.js';
import { loopDelayProbe, serveRole } from '../common.js';

const options = JSON.parse(process.argv[2] ?? '{}') as SimulatorOptions;
try {
  const sim = await startSimulator({ plainPort: 0, ...options });
  serveRole(
    {
      stats: () => ({ at: Date.now(), ...sim.stats() }),
      loopDelay: loopDelayProbe(),
      setBehaviour: (update) => {
        sim.setBehaviour(update as Partial<Behaviour>);
        return true;
      },
      releaseHeldReceipts: (options) => ({ released: sim.releaseHeldReceipts(options as ReleaseOptions | undefined) }),
    },
    () => sim.close(),
  );
  process.send?.({ type: 'ready', port: sim.plainPort });
} catch (err) {
  process.send?.({ type: 'failed', error: (err as Error).message });
  process.exit(1);
}
