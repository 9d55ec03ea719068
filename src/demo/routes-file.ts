/**
 * The routes file of `npm run demo -- --routes`, written as an operator would write one (README,
 * "Routes"): two providers over verified TLS, passwords in files beside it, a rule table with
 * comments. It goes to a temporary folder that the demo removes again; the connector reads it
 * through ROUTES_FILE like any other.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { OTP_METADATA } from './load.js';
import type { DemoTls } from './tls.js';

/** One SMPP account at one SMSC, as the demo started it. */
export interface DemoRouteAccount {
  name: string;
  port: number;
  systemId: string;
  password: string;
  /** `sessions: trx:<binds>` and the account's bind cap. */
  binds: number;
}

export interface DemoRoutesFile {
  file: string;
  /** The file as written, to show it. */
  text: string;
  remove(): void;
}

/** Writes the routes file for a primary and a fallback account; both SMSCs use the demo's TLS certificate. */
export function writeDemoRoutesFile(primary: DemoRouteAccount, fallback: DemoRouteAccount, tls: DemoTls): DemoRoutesFile {
  const dir = mkdtempSync(path.join(tmpdir(), 'sms-demo-routes-'));
  const secret = (account: DemoRouteAccount): string => {
    const file = path.join(dir, `${account.name}.password`);
    writeFileSync(file, account.password, { mode: 0o600 });
    return file;
  };
  const route = (account: DemoRouteAccount, why: string): string[] => [
    `  - name: ${account.name.padEnd(30)}# ${why}`,
    `    host: 127.0.0.1`,
    `    port: ${account.port}`,
    `    tls: true                         # verified against the demo's throwaway CA`,
    `    tlsCaFile: ${tls.caFile}`,
    `    tlsServername: ${tls.serverName}`,
    `    systemId: ${account.systemId}`,
    `    passwordFile: ${secret(account)}`,
    `    sessions: trx:${account.binds}`,
    `    accountMaxBinds: ${account.binds}`,
    `    bindHandoverMs: 0                 # one replica: nobody to hand binds over from`,
  ];
  const [otpKey, otpValue] = Object.entries(OTP_METADATA)[0]!;
  const text = [
    '# Routes of the sms-connector demo. Every route field is the SMPP_* variable of the same',
    '# meaning, with its default and its checks; with ROUTES_FILE set the SMPP_* variables are not read.',
    'routes:',
    ...route(primary, 'our main provider: everything goes here while it can take it'),
    ...route(fallback, 'a second provider with one bind: slower, but there when the main one is not'),
    '',
    '# The first rule that matches decides; the last one has no match, so every request has a rule.',
    '# A rule lists routes in order of preference: the rest of the list is where it fails over to.',
    'rules:',
    `  - name: otp                         # one-time passwords, kept apart so a later split or reorder`,
    `    match: { metadata: { ${otpKey}: ${otpValue} } }   # of the default rule never touches them`,
    `    routes: [${primary.name}, ${fallback.name}]`,
    `  - name: default`,
    `    routes: [${primary.name}, ${fallback.name}]`,
    '',
  ].join('\n');
  const file = path.join(dir, 'routes.yaml');
  writeFileSync(file, text);
  return { file, text, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
