/**
 * A routes file for tests and benchmarks (ROUTES_FILE, docs/design.md §5.7): routes on local
 * simulators — host 127.0.0.1, plain TCP unless a route says otherwise — and the rules, written as
 * JSON (which the YAML parser reads too).
 */
import { writeFileSync } from 'node:fs';

/** One route: its name and port, and any other routes-file field (systemId, sessions, rateLimit…). */
export type LocalRoute = { name: string; port: number | undefined } & Record<string, unknown>;

export interface LocalRoutesFile {
  routes: LocalRoute[];
  /** As in the file (the last one without `match`); absent: every request takes the routes in file order. */
  rules?: Array<Record<string, unknown>>;
}

export function writeRoutesFile(file: string, doc: LocalRoutesFile): string {
  const routes = doc.routes.map((r) => ({ host: '127.0.0.1', tls: false, ...r }));
  writeFileSync(file, `${JSON.stringify({ routes, ...(doc.rules ? { rules: doc.rules } : {}) }, null, 2)}\n`);
  return file;
}
