/**
 * Progress of the demo: a live bar on a terminal (cli-progress), plain lines every few seconds when
 * stdout is not a TTY (CI, `| tee`, unattended runs), so logs stay readable.
 */
import cliProgress from 'cli-progress';

export interface ProgressSnapshot {
  finished: number;
  total: number;
  produced: number;
  submits: number;
  receipts: number;
  dlq: number;
  /** A scenario's own figures (the routes demo: segments per route), shown after the others. */
  detail?: string;
}

export interface ProgressDisplay {
  update(s: ProgressSnapshot): void;
  stop(): void;
}

const PLAIN_EVERY_MS = 3000;

export function createProgress(total: number, out: NodeJS.WriteStream = process.stdout): ProgressDisplay {
  if (out.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format:
          'requests {bar} {percentage}% | {value}/{total} final | produced {produced} | submits {submits} | receipts {receipts} | DLQ {dlq} | {duration_formatted}{detail}',
        hideCursor: true,
        stream: out,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { produced: 0, submits: 0, receipts: 0, dlq: 0, detail: '' });
    return {
      update: (s) => bar.update(s.finished, { produced: s.produced, submits: s.submits, receipts: s.receipts, dlq: s.dlq, detail: detailOf(s) }),
      stop: () => bar.stop(),
    };
  }
  const started = Date.now();
  let lastAt = 0;
  let last: ProgressSnapshot | null = null;
  const line = (s: ProgressSnapshot) => {
    const pct = s.total === 0 ? 100 : Math.floor((100 * s.finished) / s.total);
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    out.write(
      `[demo] ${secs}s  ${s.finished}/${s.total} final (${pct}%)  produced ${s.produced}  submits ${s.submits}  receipts ${s.receipts}  DLQ ${s.dlq}${detailOf(s)}\n`,
    );
  };
  return {
    update: (s) => {
      last = s;
      if (Date.now() - lastAt >= PLAIN_EVERY_MS) {
        lastAt = Date.now();
        line(s);
      }
    },
    stop: () => {
      if (last) line(last);
    },
  };
}

function detailOf(s: ProgressSnapshot): string {
  return s.detail ? ` | ${s.detail}` : '';
}
