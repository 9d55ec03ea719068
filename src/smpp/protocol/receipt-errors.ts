/**
 * Delivery receipt `err:` codes of the provider (Agile Telecom, "Delivery Status Error Codes"),
 * as data: category and description exactly as in their tables, one row per line.
 */

// prettier-ignore
export const RECEIPT_ERROR_CATEGORIES = [
  'ROUTING ERROR', 'ESME ERROR', 'HLR ERROR', 'MSC ERROR', 'SMSC ERROR', 'SCREENING ERROR', 'ESME EXTERNAL ERROR',
] as const;
export type ReceiptErrorCategory = (typeof RECEIPT_ERROR_CATEGORIES)[number];

export interface ReceiptError {
  readonly code: number;
  readonly category: ReceiptErrorCategory;
  readonly description: string;
}

type Row = readonly [code: number, category: ReceiptErrorCategory, description: string];

const ROWS: readonly Row[] = [
  [101, 'ROUTING ERROR', 'No route found'],
  [102, 'ESME ERROR', 'ESME error'],
  [201, 'HLR ERROR', 'Absent subscriber'],
  [202, 'HLR ERROR', 'Facility not supported'],
  [203, 'HLR ERROR', 'System failure'],
  [204, 'HLR ERROR', 'Unexpected data value'],
  [205, 'HLR ERROR', 'Data missing'],
  [206, 'HLR ERROR', 'Memory capacity exceeded'],
  [207, 'HLR ERROR', 'Mobile subscriber not reachable'],
  [208, 'HLR ERROR', 'Reject'],
  [209, 'HLR ERROR', 'Local Cancel'],
  [210, 'HLR ERROR', 'Abort'],
  [211, 'HLR ERROR', 'Exception (internal)'],
  [212, 'HLR ERROR', 'Unknown subscriber'],
  [213, 'HLR ERROR', 'Teleservice not provisioned'],
  [214, 'HLR ERROR', 'Call barred'],
  [215, 'HLR ERROR', 'Roaming not allowed'],
  [216, 'HLR ERROR', 'Bearer service not provisioned'],
  [350, 'HLR ERROR', 'Unknown error'],
  [401, 'MSC ERROR', 'Unidentified subscriber'],
  [402, 'MSC ERROR', 'Absent subscriber, IMSI detached'],
  [403, 'MSC ERROR', 'Absent subscriber, no page response'],
  [404, 'MSC ERROR', 'Subscriber busy for MT SMS'],
  [405, 'MSC ERROR', 'Facility not supported'],
  [406, 'MSC ERROR', 'Illegal subscriber'],
  [407, 'MSC ERROR', 'Illegal equipment'],
  [408, 'MSC ERROR', 'System failure'],
  [409, 'MSC ERROR', 'Unexpected data value'],
  [410, 'MSC ERROR', 'Data missing'],
  [411, 'MSC ERROR', 'Memory capacity exceeded'],
  [412, 'MSC ERROR', 'Equipment protocol error'],
  [413, 'MSC ERROR', 'Device not short message equipped'],
  [414, 'MSC ERROR', 'Reject'],
  [415, 'MSC ERROR', 'Local Cancel'],
  [416, 'MSC ERROR', 'Abort'],
  [417, 'MSC ERROR', 'Exception (internal)'],
  [418, 'MSC ERROR', 'SM delivery failure'],
  [419, 'MSC ERROR', 'Temporary mobile error'],
  [550, 'MSC ERROR', 'Unknown error'],
  [615, 'SMSC ERROR', 'Network Timeout'],
  [616, 'SMSC ERROR', 'Routing error'],
  [617, 'SMSC ERROR', 'Mobile device error'],
  [618, 'SMSC ERROR', 'Invalid text or charset'],
  [806, 'SCREENING ERROR', 'Destination blocked'],
  [901, 'ESME EXTERNAL ERROR', 'Invalid destination address'],
  [902, 'ESME EXTERNAL ERROR', 'Invalid source address'],
  [903, 'ESME EXTERNAL ERROR', 'Message queue full'],
  [904, 'ESME EXTERNAL ERROR', 'Invalid parameter'],
];

export const RECEIPT_ERROR_TABLE: ReadonlyMap<number, ReceiptError> = new Map(
  ROWS.map(([code, category, description]) => [code, Object.freeze({ code, category, description })]),
);

/**
 * What a receipt's `err:` says:
 * - none: absent, empty or all zeros (`000`) — no error
 * - known: a code of the provider's table
 * - unknown: anything else; `code` is set when the raw value is numeric (`999`), null when not
 *   (`21b`), and `raw` is always kept so nothing the SMSC said is lost.
 */
export type ReceiptErrorLookup =
  | { readonly kind: 'none'; readonly raw: string | null }
  | ({ readonly kind: 'known'; readonly raw: string } & ReceiptError)
  | { readonly kind: 'unknown'; readonly raw: string; readonly code: number | null };

export function receiptError(raw: string | null | undefined): ReceiptErrorLookup {
  const value = raw?.trim() ?? '';
  if (value === '' || /^0+$/.test(value)) return { kind: 'none', raw: raw ?? null };
  if (!/^[0-9]+$/.test(value)) return { kind: 'unknown', raw: value, code: null };
  const code = Number(value);
  const known = RECEIPT_ERROR_TABLE.get(code);
  return known ? { kind: 'known', raw: value, ...known } : { kind: 'unknown', raw: value, code };
}
