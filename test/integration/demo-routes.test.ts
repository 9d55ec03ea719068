// Invariant (issue 21 §5, "Demo"): `demo --routes` runs end to end against the real stack and shows
// what it claims — every request reaches its SUMMARY (missing 0), both routes carry traffic, the
// traffic fails over when the primary's credit runs out and comes back when it returns, and the
// urgent lane's latency is reported — and it exits 0 only then.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { REPO_ROOT } from '../../tools/dev-stack/stack.js';
import { testStack } from '../helpers/stack.js';

interface DemoResult {
  code: number;
  stdout: string;
}

/** The real command, as a user runs it, against this run's stack (which it leaves running). */
function demo(args: string[], timeoutMs: number): Promise<DemoResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', 'demo', ...args],
      { cwd: REPO_ROOT, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout: `${stdout}${stderr ? `\n${stderr}` : ''}` });
      },
    );
  });
}

/** The number of a summary row (`  label   value   note`); null when the row is absent or shows '-'. */
function figure(stdout: string, label: string): number | null {
  const line = stdout.split('\n').find((l) => l.trimStart().startsWith(`${label} `));
  const value = line
    ?.slice(line.indexOf(label) + label.length)
    .trim()
    .split(/\s+/)[0];
  return value === undefined || !/^\d+(\.\d+)?$/.test(value) ? null : Number(value);
}

test('demo --routes: nothing missing, both routes carry traffic, failover on credit exhaustion and failback when it returns', async (t) => {
  const stack = await testStack();
  const run = await demo(['--routes', '--count', '600', '--timeout-s', '120', '--stack-dir', stack.dir], 170_000);
  const summary = run.stdout.slice(run.stdout.indexOf('═══'), run.stdout.lastIndexOf('═══') + 3);
  t.diagnostic(summary || run.stdout);
  assert.equal(run.code, 0, `the demo exits 0\n${run.stdout}`);

  assert.equal(figure(run.stdout, 'missing (no SUMMARY)'), 0, 'missing 0');
  assert.equal(figure(run.stdout, 'unexpected outcome'), 0, 'every request ended as its kind allows');
  const primary = figure(run.stdout, 'primary');
  const fallback = figure(run.stdout, 'fallback');
  assert.ok(primary !== null && primary > 0, `the primary carried traffic (${primary})`);
  assert.ok(fallback !== null && fallback > 0, `the fallback carried traffic (${fallback})`);

  const failover = figure(run.stdout, 'failover (ms)');
  const failback = figure(run.stdout, 'failback (ms)');
  assert.ok(failover !== null && failover < 10_000, `traffic flowed on the fallback after the credit ran out (${failover} ms)`);
  // the paused route is probed every second in the demo (ACCOUNT_PROBE_INTERVAL_MS)
  assert.ok(failback !== null && failback < 10_000, `traffic flowed on the primary again after the credit returned (${failback} ms)`);
  assert.ok(figure(run.stdout, 'urgent lane p99 (ms)') !== null, 'the urgent lane latency is shown');
});
