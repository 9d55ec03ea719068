/**
 * Walks the provider's page itself (shared/seed beside the repository) and checks that every
 * row of its error tables is in our tables with the same category and description.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RECEIPT_ERROR_TABLE } from '../../src/smpp/receipt-errors.js';
import { submitStatus, SUBMIT_STATUS_TABLE } from '../../src/smpp/status.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const seedPath = path.resolve(repoRoot, '../shared/seed/000_fd89fa5380a90448.txt');

function readSeed(): string {
  assert.ok(existsSync(seedPath), `provider seed not found at ${seedPath}: CI must check out shared/ beside the repository`);
  return readFileSync(seedPath, 'utf8');
}

/** Rows (cells trimmed) of every markdown table whose header row is exactly `header`. */
function tableRows(markdown: string, header: string[]): string[][] {
  const rows: string[][] = [];
  let inTable = false;
  for (const line of markdown.split('\n')) {
    if (!line.startsWith('|')) {
      inTable = false;
      continue;
    }
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (cells.join('|') === header.join('|')) inTable = true;
    else if (inTable && !cells.every((c) => /^-+$/.test(c))) rows.push(cells);
  }
  return rows;
}

describe('seed tables', () => {
  test('every row of the seed "Bind & Authentication Errors" table is in the submit table with its description and advice', () => {
    const rows = tableRows(readSeed(), ['Error Code', 'Hex', 'Description']);
    assert.equal(rows.length, 14, 'the seed table has 14 rows');
    for (const [decimal, hex, text] of rows) {
      const m = /^\*\*(.+?)\*\* — (.+)$/.exec(text ?? '');
      assert.ok(m, `unexpected description layout: ${text}`);
      const code = Number(hex);
      // The seed's slip: "13 | 0x0E" — keyed by hex; 13 (0x0D) is a credential error as well.
      if (decimal === '13' && hex === '0x0E') assert.equal(submitStatus(0x0d).category, 'CREDENTIALS');
      else assert.equal(Number(decimal), code, `decimal and hex disagree in row ${hex}`);
      const row = SUBMIT_STATUS_TABLE.get(code);
      assert.ok(row, `${hex} missing from the submit table`);
      assert.equal(row.description, m[1], hex);
      assert.equal(row.advice, m[2], hex);
    }
  });

  test('every row of the seed delivery error tables is in the receipt table with the same category and description, and nothing else is', () => {
    const rows = tableRows(readSeed(), ['Code', 'Category', 'Description']);
    assert.equal(rows.length, 48, 'the seed delivery tables have 48 rows');
    for (const [code, category, description] of rows) {
      assert.deepEqual(RECEIPT_ERROR_TABLE.get(Number(code)), { code: Number(code), category, description }, code);
    }
    assert.equal(RECEIPT_ERROR_TABLE.size, rows.length);
  });
});
