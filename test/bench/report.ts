/**
 * Figures of a bench run: each is printed the moment it is known, with how it was obtained, and
 * kept for the JSON summary (.local/bench-results/<time>.json) that BENCHMARKS.md is written from.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { say } from './common.js';

export interface Figure {
  section: string;
  name: string;
  value: number | string;
  unit: string;
  how: string;
}

export class Report {
  readonly figures: Figure[] = [];
  readonly skipped: Array<{ section: string; reason: string }> = [];
  readonly notes: string[] = [];

  /** `echo` false: keep the figures without printing them (the warm-up pass). */
  constructor(private readonly echo = true) {}

  section(title: string): void {
    if (this.echo) say(`\n== ${title} ==`);
  }

  add(section: string, name: string, value: number | string, unit: string, how: string): void {
    this.figures.push({ section, name, value, unit, how });
    const shown =
      typeof value === 'number' ? (Number.isFinite(value) ? value.toLocaleString('en-US', { maximumFractionDigits: value < 10 ? 3 : 1 }) : 'n/a') : value;
    if (!this.echo) return;
    say(`  ${name}: ${shown}${unit ? ` ${unit}` : ''}`);
    say(`      how: ${how}`);
  }

  skip(section: string, reason: string): void {
    this.skipped.push({ section, reason });
    say(`  SKIPPED ${section}: ${reason}`);
  }

  note(line: string): void {
    this.notes.push(line);
    if (this.echo) say(`  note: ${line}`);
  }

  get(section: string, name: string): number | undefined {
    return this.all(section, name)[0];
  }

  /** Every numeric value of a figure, in the order measured (a scenario repeated by `--pairs`). */
  all(section: string, name: string): number[] {
    return this.figures.filter((x) => x.section === section && x.name === name && typeof x.value === 'number').map((x) => x.value as number);
  }

  write(dir: string, meta: Record<string, unknown>): string {
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify({ meta, figures: this.figures, skipped: this.skipped, notes: this.notes }, null, 2)}\n`);
    return file;
  }
}
