/**
 * The configuration's security posture, beside the parsing in config.ts: credentials that would
 * leak (in a URL) or be silently unused (a password without its username), the TLS files read at
 * start (CA, client certificate and key — a bad path is a config error naming the variable),
 * SMPP 3.4's credential lengths, and the one-line warnings for every setting that weakens security.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from './config-error.js';
import type { Config } from './config.js';
import { BIND_FIELD_LIMITS } from './smpp/protocol/pdu-encode.js';

/** PEM text of the `*_CA_FILE`, `*_CERT_FILE` and `*_KEY_FILE` variables, read once at start (never logged). */
export interface TlsFiles {
  ca: string | null;
  cert: string | null;
  key: string | null;
}

/**
 * `https://user:pass@host` would put a password where URLs get printed (logs, errors, dashboards):
 * refused before parsing, and the value is never echoed.
 */
export function refuseUrlCredentials(env: Record<string, string | undefined>): void {
  const url = env['SCHEMA_REGISTRY_URL'];
  if (url !== undefined && /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(url)) {
    throw new ConfigError(
      'SCHEMA_REGISTRY_URL',
      'SCHEMA_REGISTRY_URL: must not hold credentials (user:pass@): set SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD(_FILE) instead (value not shown)',
    );
  }
}

/** The credential variables both loaders share. */
export interface CredentialEnv {
  KAFKA_SASL_MECHANISM?: string | undefined;
  KAFKA_SASL_USERNAME?: string | undefined;
  KAFKA_SASL_PASSWORD?: string | undefined;
  SCHEMA_REGISTRY_USERNAME?: string | undefined;
  SCHEMA_REGISTRY_PASSWORD?: string | undefined;
}

/** A credential that would be ignored (a password without its username or mechanism) is a mistake, not a default. */
export function checkCredentials(e: CredentialEnv): void {
  if (e.KAFKA_SASL_PASSWORD && !e.KAFKA_SASL_USERNAME) {
    throw new ConfigError('KAFKA_SASL_USERNAME', 'KAFKA_SASL_USERNAME: must be set when KAFKA_SASL_PASSWORD(_FILE) is (not set)');
  }
  if ((e.KAFKA_SASL_USERNAME || e.KAFKA_SASL_PASSWORD) && !e.KAFKA_SASL_MECHANISM) {
    throw new ConfigError(
      'KAFKA_SASL_MECHANISM',
      'KAFKA_SASL_MECHANISM: must be one of plain, scram-sha-256, scram-sha-512 when KAFKA_SASL_USERNAME is set (not set)',
    );
  }
  if (e.KAFKA_SASL_MECHANISM && (!e.KAFKA_SASL_USERNAME || !e.KAFKA_SASL_PASSWORD)) {
    throw new ConfigError('KAFKA_SASL_USERNAME', 'KAFKA_SASL_USERNAME: KAFKA_SASL_MECHANISM needs a username and KAFKA_SASL_PASSWORD(_FILE)');
  }
  if (e.SCHEMA_REGISTRY_PASSWORD && !e.SCHEMA_REGISTRY_USERNAME) {
    throw new ConfigError('SCHEMA_REGISTRY_USERNAME', 'SCHEMA_REGISTRY_USERNAME: must be set when SCHEMA_REGISTRY_PASSWORD(_FILE) is (not set)');
  }
}

/** The CA / client certificate / key variables of one TLS client, in that order. */
type TlsFileVariables = readonly [ca: string, cert: string, key: string];
export const KAFKA_TLS_FILES: TlsFileVariables = ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE'];
export const REGISTRY_TLS_FILES: TlsFileVariables = ['SCHEMA_REGISTRY_CA_FILE', 'SCHEMA_REGISTRY_CERT_FILE', 'SCHEMA_REGISTRY_KEY_FILE'];

export function readPemFile(variable: string, file: string | undefined): string | null {
  if (file === undefined) return null;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(variable, `${variable}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!text.includes('-----BEGIN ')) throw new ConfigError(variable, `${variable}: ${file} is not a PEM file (no -----BEGIN line)`);
  return text;
}

/**
 * Reads one client's CA, certificate and key files. `tlsOn` says whether that client speaks TLS at
 * all: a CA file for a plaintext connection would be ignored, so it is an error instead.
 */
export function readTlsFiles(env: Record<string, string | undefined>, [caVar, certVar, keyVar]: TlsFileVariables, tlsOn: boolean, needs: string): TlsFiles {
  const set = [caVar, certVar, keyVar].filter((v) => env[v] !== undefined);
  if (set.length > 0 && !tlsOn) throw new ConfigError(set[0]!, `${set[0]}: needs ${needs} (set, but the connection is not TLS)`);
  if ((env[certVar] === undefined) !== (env[keyVar] === undefined)) {
    const missing = env[certVar] === undefined ? certVar : keyVar;
    throw new ConfigError(missing, `${missing}: must be set with ${missing === certVar ? keyVar : certVar} (mutual TLS needs both) (not set)`);
  }
  return { ca: readPemFile(caVar, env[caVar]), cert: readPemFile(certVar, env[certVar]), key: readPemFile(keyVar, env[keyVar]) };
}

/** The bind fields' SMPP 3.4 limits (one table, in the SMPP layer), by the variable that sets each. */
export const SMPP_CREDENTIAL_LIMITS = { SMPP_SYSTEM_ID: BIND_FIELD_LIMITS.system_id, SMPP_PASSWORD: BIND_FIELD_LIMITS.password } as const;

export function checkSmppCredentialLengths(e: { SMPP_SYSTEM_ID: string; SMPP_PASSWORD: string; SMPP_ALLOW_LONG_CREDENTIALS: boolean }): void {
  if (e.SMPP_ALLOW_LONG_CREDENTIALS) return;
  for (const variable of ['SMPP_SYSTEM_ID', 'SMPP_PASSWORD'] as const) {
    const length = Buffer.byteLength(e[variable], 'utf8');
    const limit = SMPP_CREDENTIAL_LIMITS[variable];
    if (length > limit) {
      throw new ConfigError(
        variable,
        `${variable}: is ${length} characters but SMPP 3.4 allows at most ${limit} (the SMSC would refuse the bind with 0x02); ` +
          'set SMPP_ALLOW_LONG_CREDENTIALS=true only if the provider documents longer ones',
      );
    }
  }
}

/**
 * One line per setting that weakens the connection's security, for the start-up log: each is
 * allowed (a lab, a private network) but must never be silent.
 */
export function securityWarnings(config: Readonly<Config>): string[] {
  const warnings: string[] = [];
  const { kafka, registry } = config;
  // every route: a backup account in clear text is as exposed as the primary
  for (const smpp of config.routes) {
    const where = config.routes.length > 1 ? ` (route ${smpp.name})` : '';
    if (!smpp.tls) {
      warnings.push(`SMPP_TLS=false${where}: the SMPP password and every message travel in clear text to ${smpp.host}:${smpp.port}`);
    } else if (!smpp.tlsRejectUnauthorized) {
      warnings.push(
        `SMPP_TLS_REJECT_UNAUTHORIZED=false${where}: the certificate of ${smpp.host} is not verified; anyone on the path can pose as the SMSC and read the password (set SMPP_TLS_CA_FILE for a private CA instead)`,
      );
    }
  }
  if (kafka.sasl && !kafka.ssl) {
    const what = kafka.sasl.mechanism === 'plain' ? 'the SASL password and every record travel' : 'every record travels';
    warnings.push(`KAFKA_SASL_MECHANISM=${kafka.sasl.mechanism} with KAFKA_SSL=false: ${what} in clear text to the brokers`);
  }
  if (registry.auth && registry.url.startsWith('http://')) {
    warnings.push('SCHEMA_REGISTRY_USERNAME with an http:// SCHEMA_REGISTRY_URL: the registry password travels in clear text (basic auth)');
  }
  return warnings;
}
