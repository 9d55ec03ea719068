import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RECEIPT_ERROR_CATEGORIES, RECEIPT_ERROR_TABLE, receiptError } from '../../src/smpp/protocol/receipt-errors.js';

describe('receipt error table', () => {
  test('every row uses the closed category list and is keyed by its own code', () => {
    for (const [code, row] of RECEIPT_ERROR_TABLE) {
      assert.equal(row.code, code);
      assert.ok(RECEIPT_ERROR_CATEGORIES.includes(row.category), String(code));
    }
  });

  test("'000', empty and absent err mean no error", () => {
    for (const raw of ['000', '0', '', null, undefined]) assert.equal(receiptError(raw).kind, 'none', String(raw));
  });

  test('a known code gives the seed category and description with the raw value kept', () => {
    assert.deepEqual(receiptError('201'), { kind: 'known', raw: '201', code: 201, category: 'HLR ERROR', description: 'Absent subscriber' });
    assert.equal(receiptError(' 806 ').kind, 'known');
  });

  test('unknown codes are never dropped: numeric keeps its number, non-numeric keeps only the raw string', () => {
    assert.deepEqual(receiptError('999'), { kind: 'unknown', raw: '999', code: 999 });
    assert.deepEqual(receiptError('21b'), { kind: 'unknown', raw: '21b', code: null });
  });
});
