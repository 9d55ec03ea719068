/**
 * The provider's error tables against ours. The tables as the provider publishes them live in the
 * repository as test data (test/data/agile-error-tables.json: codes, categories, descriptions), so
 * this runs in any clone. Given the provider's page itself (KSC_PROVIDER_PAGE=<path to the page's
 * text>), an extra check walks it and proves the test data is still what the page says.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RECEIPT_ERROR_TABLE } from '../../src/smpp/protocol/receipt-errors.js';
import { submitStatus, SUBMIT_STATUS_TABLE } from '../../src/smpp/protocol/status.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const providerPage = process.env['KSC_PROVIDER_PAGE'] ?? '';

interface ProviderTables {
  bindAndAuthenticationErrors: Array<{ decimal: number; hex: string; description: string; advice: string }>;
  deliveryErrors: Array<{ code: number; category: string; description: string }>;
}
const tables = JSON.parse(readFileSync(path.join(repoRoot, 'test/data/agile-error-tables.json'), 'utf8')) as ProviderTables;

/** Rows (cells trimmed) of every markdown table whose header row is exactly `header`. */
function tableRows(markdown: string, header: string[]): string[][] {
  const rows: string[][] = [];
  let inTable = false;
  for (const line of markdown.split('\n')) {
    if (!line.startsWith('|')) {
      inTable = false;
      continue;
    }
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    if (cells.join('|') === header.join('|')) inTable = true;
    else if (inTable && !cells.every((c) => /^-+$/.test(c))) rows.push(cells);
  }
  return rows;
}

describe('provider error tables', () => {
  test('every row of the provider\'s "Bind & Authentication Errors" table is in the submit table with its description and advice', () => {
    assert.equal(tables.bindAndAuthenticationErrors.length, 14, 'the provider table has 14 rows');
    for (const { decimal, hex, description, advice } of tables.bindAndAuthenticationErrors) {
      const code = Number(hex);
      // The provider's slip: "13 | 0x0E" — keyed by hex; 13 (0x0D) is a credential error as well.
      if (decimal === 13 && hex === '0x0E') assert.equal(submitStatus(0x0d).category, 'CREDENTIALS');
      else assert.equal(decimal, code, `decimal and hex disagree in row ${hex}`);
      const row = SUBMIT_STATUS_TABLE.get(code);
      assert.ok(row, `${hex} missing from the submit table`);
      assert.equal(row.description, description, hex);
      assert.equal(row.advice, advice, hex);
    }
  });

  test("every row of the provider's delivery error tables is in the receipt table with the same category and description, and nothing else is", () => {
    assert.equal(tables.deliveryErrors.length, 48, 'the provider delivery tables have 48 rows');
    for (const row of tables.deliveryErrors) assert.deepEqual(RECEIPT_ERROR_TABLE.get(row.code), row, String(row.code));
    assert.equal(RECEIPT_ERROR_TABLE.size, tables.deliveryErrors.length);
  });

  test(
    "the test data is what the provider's page says (only with KSC_PROVIDER_PAGE set)",
    { skip: providerPage !== '' && existsSync(providerPage) ? false : 'KSC_PROVIDER_PAGE not set' },
    () => {
      const page = readFileSync(providerPage, 'utf8');
      const bind = tableRows(page, ['Error Code', 'Hex', 'Description']).map(([decimal, hex, text]) => {
        const m = /^\*\*(.+?)\*\* — (.+)$/.exec(text ?? '');
        assert.ok(m, `unexpected description layout: ${text}`);
        return { decimal: Number(decimal), hex, description: m[1], advice: m[2] };
      });
      assert.deepEqual(bind, tables.bindAndAuthenticationErrors);
      const delivery = tableRows(page, ['Code', 'Category', 'Description']).map(([code, category, description]) => ({
        code: Number(code),
        category,
        description,
      }));
      assert.deepEqual(delivery, tables.deliveryErrors);
    },
  );
});
