// Invariant (issue 21 §1): a routes file defines any number of routes with the same rules, defaults and
// limits as the SMPP_* variables each field stands for, and a rule table checked against them; every
// mistake stops start-up with one line naming ROUTES_FILE, the route or rule, and the field. Without a
// file, the SMPP_* variables are one route named `default` and every request goes to it.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'ksc-routes-'));
let n = 0;
function file(text: string, ext = 'yaml'): string {
  const path = join(dir, `routes-${++n}.${ext}`);
  writeFileSync(path, text);
  return path;
}
writeFileSync(join(dir, 'backup.pw'), 'b4ckup\n');

const TWO_ROUTES = `
routes:
  - name: agile
    host: smpp.agiletelecom.com
    systemId: acme
    password: s3cret
    sessions: trx:2
    accountMaxBinds: 2
  - name: backup
    host: smpp.backup.example
    port: 2775
    tls: false
    systemId: acme-b
    passwordFile: ${join(dir, 'backup.pw')}
    sessions: tx:1,rx:1
    rateLimit: 50
    timeFormat: yyyymmddhhmmss
rules:
  - name: otp
    match: { metadata: { class: otp }, to: [+39], from: [ACME, 12345] }
    routes: [backup, agile]
  - name: default
    routes: [agile, backup]
`;

function refused(text: string, pattern: RegExp, ext = 'yaml'): void {
  assert.throws(
    () => loadConfig({ ROUTES_FILE: file(text, ext) }),
    (e: unknown) => e instanceof ConfigError && e.variable === 'ROUTES_FILE' && pattern.test(e.message) && !e.message.includes('\n'),
  );
}

describe('ROUTES_FILE', () => {
  it('two routes with their own settings (defaults where absent) and the rule table; SMPP_* account variables not needed', () => {
    const config = loadConfig({ ROUTES_FILE: file(TWO_ROUTES) });
    assert.deepEqual(
      config.routes.map((r) => [r.name, r.host, r.port, r.tls, r.systemId, r.password, r.rateLimit, r.window, r.timeFormat]),
      [
        ['agile', 'smpp.agiletelecom.com', 2776, true, 'acme', 's3cret', 100, 10, 'smpp34'],
        ['backup', 'smpp.backup.example', 2775, false, 'acme-b', 'b4ckup', 50, 10, 'yyyymmddhhmmss'],
      ],
    );
    assert.deepEqual(config.routes[1]!.sessions, [
      { mode: 'tx', count: 1 },
      { mode: 'rx', count: 1 },
    ]);
    assert.equal(config.smpp, config.routes[0], 'the first route is what single-route parts read');
    assert.deepEqual(
      config.routingRules.map((r) => [r.name, r.routes, r.match?.to, r.match?.from]),
      [
        ['otp', ['backup', 'agile'], ['39'], ['ACME', '12345']], // a numeric sender unquoted in YAML is text
        ['default', ['agile', 'backup'], undefined, undefined],
      ],
    );
  });

  it('SMPP_* variables set beside the file are not read, and named for the start-up warning', () => {
    const config = loadConfig({ ROUTES_FILE: file(TWO_ROUTES), SMPP_RATE_LIMIT: '50', SMPP_HOST: 'other.example', SMPP_PORT: '' });
    assert.deepEqual(config.ignoredVariables, ['SMPP_HOST', 'SMPP_RATE_LIMIT']);
    assert.equal(config.routes[0]!.rateLimit, 100, 'the file (its default) decides, not the variable');
    assert.equal(loadConfig({ SMPP_SYSTEM_ID: 'a', SMPP_PASSWORD: 'b', SMPP_RATE_LIMIT: '50' }).ignoredVariables, undefined);
  });

  it('JSON works too; without rules every request goes to the routes in file order', () => {
    const config = loadConfig({
      ROUTES_FILE: file(
        JSON.stringify({
          routes: [
            { name: 'a', host: 'smsc.a.example', systemId: 'x', password: 'y' },
            { name: 'b', host: 'smsc.b.example', systemId: 'z', password: 'y' },
          ],
        }),
        'json',
      ),
    });
    assert.deepEqual(config.routingRules, [{ name: 'default', routes: ['a', 'b'] }]);
  });

  it('a wrong value names the route and its field, in the words of the file', () => {
    refused(TWO_ROUTES.replace('port: 2775', 'port: 99999'), /^ROUTES_FILE: routes\[1\] \(backup\)\.port: must be an integer from 1 to 65535/);
    refused(TWO_ROUTES.replace('sessions: trx:2', 'sessions: trx:9'), /^ROUTES_FILE: routes\[0\] \(agile\)\.sessions: /);
    refused(
      TWO_ROUTES.replace('systemId: acme-b', 'systemId: a-very-long-system-id'),
      /^ROUTES_FILE: routes\[1\] \(backup\)\.systemId: is 21 characters but SMPP 3\.4 allows at most 15/,
    );
    refused(TWO_ROUTES.replace('    password: s3cret\n', ''), /^ROUTES_FILE: routes\[0\] \(agile\)\.password: /);
    refused(TWO_ROUTES.replace('rateLimit: 50', 'rateLimt: 50'), /^ROUTES_FILE: routes\[1\] \(backup\)\.rateLimt: not a known field/);
    refused(TWO_ROUTES.replace('name: backup', 'name: Backup Route'), /^ROUTES_FILE: routes\[1\]\.name: a name of 1 to 32 characters/);
    refused(TWO_ROUTES.replace('name: backup', 'name: agile'), /^ROUTES_FILE: routes\[1\] \(agile\)\.name: two routes have this name/);
    refused(
      TWO_ROUTES.replace('routes: [agile, backup]', 'routes: [agile, spare]'),
      /^ROUTES_FILE: rules\[1\] \(default\)\.routes\[1\]: no route named 'spare'/,
    );
    refused(
      TWO_ROUTES.replace('  - name: default\n    routes: [agile, backup]\n', ''),
      /^ROUTES_FILE: rules\[0\] \(otp\)\.match: the last rule is the default/,
    );
    refused(TWO_ROUTES.replace('passwordFile: ', 'passwordFile: /nonexistent'), /^ROUTES_FILE: routes\[1\] \(backup\)\.passwordFile: cannot read/);
    refused(
      // the same host and system id on another port (2775, the other 2776): still the same account
      TWO_ROUTES.replace('host: smpp.backup.example', 'host: SMPP.agiletelecom.com').replace('systemId: acme-b', 'systemId: acme'),
      /^ROUTES_FILE: routes 'agile' and 'backup' are the same account \(smpp\.agiletelecom\.com acme\)/,
    );
    refused(TWO_ROUTES.replace('    host: smpp.backup.example\n', ''), /^ROUTES_FILE: routes\[1\] \(backup\)\.host: required/);
    refused('routes: [', /^ROUTES_FILE: not YAML or JSON/);
    refused('routes: []', /^ROUTES_FILE: routes: at least one route/);
    assert.throws(() => loadConfig({ ROUTES_FILE: join(dir, 'missing.yaml') }), /ROUTES_FILE: cannot read/);
  });

  it('no routes file: the SMPP_* variables are one route, default, and one rule', () => {
    const config = loadConfig({ SMPP_SYSTEM_ID: 'acme', SMPP_PASSWORD: 'x', SMPP_TIME_FORMAT: 'yyyymmddhhmmss' });
    assert.deepEqual(
      config.routes.map((r) => [r.name, r.systemId, r.timeFormat, r.profile]),
      [['default', 'acme', 'yyyymmddhhmmss', 'agile']],
    );
    assert.deepEqual(config.routingRules, [{ name: 'default', routes: ['default'] }]);
    assert.equal(config.routeFailoverUnboundMs, 30000);
    assert.deepEqual([config.routeCircuitFailures, config.routeCircuitOpenMs], [20, 30000], 'a circuit opens after 20 SMSC-side failures in a row, for 30 s');
  });
});
