/**
 * The demo's mixed load: what a real upstream sends on a busy day, with the outcome each request
 * must reach — so the demo can say not only "how many" but "each one ended where it should".
 *
 * Deterministic for a given count and seed (a small PRNG, no Math.random), so two runs are comparable.
 */
import type { DeliveryStatus, SmsOutbound } from '../contracts.js';
import { prng } from '../util/prng.js';
import type { Lane } from '../pipeline/admission.js';

export const KINDS = [
  'gsm7',
  'ucs2-emoji',
  'long-gsm7',
  'long-ucs2',
  'alphanumeric-sender',
  'no-report',
  'absent-subscriber',
  'invalid-number',
  'invalid-sender',
  'gsm7-forced-emoji',
] as const;
export type Kind = (typeof KINDS)[number];

/** Share of the load per kind; `gsm7` takes what the rounding leaves. */
const WEIGHTS: Record<Kind, number> = {
  gsm7: 0.38,
  'ucs2-emoji': 0.14,
  'long-gsm7': 0.1,
  'long-ucs2': 0.05,
  'alphanumeric-sender': 0.15,
  'no-report': 0.04,
  'absent-subscriber': 0.05,
  'invalid-number': 0.05,
  'invalid-sender': 0.02,
  'gsm7-forced-emoji': 0.02,
};

/** Destinations starting with this are "absent subscribers" in the demo's simulator. */
export const ABSENT_PREFIX = '39333';

/**
 * The SUMMARY a kind may end with. Deliverable kinds may also fail: the simulator fails a small
 * random share with 418 (SM delivery failure), as a real network does.
 */
const EXPECTED: Record<Kind, readonly DeliveryStatus[]> = {
  gsm7: ['DELIVERED', 'UNDELIVERED'],
  'ucs2-emoji': ['DELIVERED', 'UNDELIVERED'],
  'long-gsm7': ['DELIVERED', 'UNDELIVERED'],
  'long-ucs2': ['DELIVERED', 'UNDELIVERED'],
  'alphanumeric-sender': ['DELIVERED', 'UNDELIVERED'],
  'no-report': ['SUBMITTED'],
  'absent-subscriber': ['UNDELIVERED'],
  'invalid-number': ['REJECTED'],
  'invalid-sender': ['REJECTED'],
  'gsm7-forced-emoji': ['REJECTED'],
};

/** The connector's input topic a request is produced to (docs/design.md §5.6). */
export type { Lane };

export interface DemoRequest {
  key: string;
  value: SmsOutbound;
  kind: Kind;
  expected: readonly DeliveryStatus[];
  lane: Lane;
}

const SHORT_GSM = [
  'Your code is 481516. It expires in 10 minutes.',
  'Appointment confirmed: Tue 10:30, Via Roma 12. Reply STOP to opt out.',
  'Il tuo pacco è in consegna oggi tra le 14 e le 18.',
  'Payment of EUR 42.00 received. Thank you! @ACME',
  'Reminder: your subscription renews on 1/7 {plan: gold}',
];
const SHORT_UCS2 = [
  'Ordine spedito 📦 arriva domani!',
  'Happy birthday 🎉🎂 from all of us',
  'Ваш код: 2718 🔐',
  '支付成功 ✅ 谢谢',
  'Table for 2 confirmed 🍝 see you at 8',
];
const LONG_GSM =
  'Dear customer, this is a longer notice to show concatenated SMS: the connector splits text that does not fit ' +
  'into one 160-character message into parts with a user data header, and the handset joins them again. ' +
  'Charges apply per part, so the planner counts segments before sending. Escaped characters like [ ] { } ~ ^ € ' +
  'take two septets each and are counted correctly. Thank you for reading to the end.';
const LONG_UCS2 =
  'Grazie per il tuo ordine 🛒! Ti avviseremo quando il corriere 🚚 lo prenderà in carico; nel frattempo puoi seguirlo dall’app 📱 o dal sito 🌐. A presto 👋';

function pick<T>(list: readonly T[], random: () => number): T {
  return list[Math.floor(random() * list.length)]!;
}

/** An Italian mobile number 3934xxxxxxxx from a pool, so some keys repeat (per-key order matters). */
function mobile(random: () => number, poolSize: number): string {
  return `+3934${String(Math.floor(random() * poolSize)).padStart(8, '0')}`;
}

function kindsFor(count: number, random: () => number): Kind[] {
  const kinds: Kind[] = [];
  for (const kind of KINDS) {
    if (kind === 'gsm7') continue;
    const n = Math.max(1, Math.round(WEIGHTS[kind] * count));
    for (let i = 0; i < n && kinds.length < count - 1; i++) kinds.push(kind);
  }
  while (kinds.length < count) kinds.push('gsm7');
  // Fisher–Yates: the kinds arrive mixed, as they would in production.
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  return kinds;
}

export function buildLoad(count: number, runId: string, seed = 20250601): DemoRequest[] {
  const random = prng(seed);
  const poolSize = Math.max(50, Math.floor(count / 4));
  return kindsFor(count, random).map((kind, i) => {
    const id = `${runId}-${String(i + 1).padStart(5, '0')}`;
    const value: SmsOutbound = {
      id,
      from: '393400000001',
      to: mobile(random, poolSize),
      text: pick(SHORT_GSM, random),
      encoding: 'AUTO',
      requestDeliveryReport: true,
      scheduleAt: null,
      validUntil: null,
      metadata: { demo: runId, kind },
    };
    switch (kind) {
      case 'ucs2-emoji':
        value.text = pick(SHORT_UCS2, random);
        break;
      case 'long-gsm7':
        value.text = LONG_GSM;
        break;
      case 'long-ucs2':
        value.text = LONG_UCS2;
        break;
      case 'alphanumeric-sender':
        value.from = 'ACME Shop';
        break;
      case 'no-report':
        value.requestDeliveryReport = false;
        break;
      case 'absent-subscriber':
        value.to = `+${ABSENT_PREFIX}${String(Math.floor(random() * 1e7)).padStart(7, '0')}`;
        break;
      case 'invalid-number':
        value.to = pick(['12345', '+39 abc 4455', '0039123456789012345678', ''], random);
        break;
      case 'invalid-sender':
        value.from = 'ACME Online Store';
        break;
      case 'gsm7-forced-emoji':
        value.encoding = 'GSM7';
        value.text = 'Forced GSM-7 cannot carry 😀';
        break;
      case 'gsm7':
        break;
    }
    return { key: value.to || id, value, kind, expected: EXPECTED[kind], lane: 'bulk' };
  });
}

/** Metadata the routes demo's rule table matches one-time passwords by (`match: { metadata: { class: otp } }`). */
export const OTP_METADATA = { class: 'otp' } as const;

/**
 * One-time passwords for the urgent lane: short GSM-7 texts to distinct numbers (each its own key,
 * so none waits for another), deliverable like any `gsm7` request.
 */
export function buildUrgentBurst(count: number, runId: string, seed = 20250601): DemoRequest[] {
  const random = prng(seed + 1);
  return Array.from({ length: count }, (_, i) => {
    const id = `${runId}-otp-${String(i + 1).padStart(3, '0')}`;
    const code = String(Math.floor(random() * 1e6)).padStart(6, '0');
    const value: SmsOutbound = {
      id,
      from: 'ACME',
      to: `+3935${String(i).padStart(8, '0')}`,
      text: `Your ACME code is ${code}. It expires in 5 minutes.`,
      encoding: 'AUTO',
      requestDeliveryReport: true,
      scheduleAt: null,
      validUntil: null,
      metadata: { demo: runId, kind: 'gsm7', ...OTP_METADATA },
    };
    return { key: value.to, value, kind: 'gsm7' as const, expected: EXPECTED.gsm7, lane: 'urgent' as const };
  });
}

/** Records that can never decode, with the DLQ error code each must get. */
export function poisonRecords(validEncoded: Buffer, runId: string): Array<{ key: string; value: Buffer | null; code: string }> {
  return [
    { key: `${runId}-poison-magic`, value: Buffer.concat([Buffer.from([1]), validEncoded.subarray(1)]), code: 'BAD_MAGIC_BYTE' },
    { key: `${runId}-poison-avro`, value: validEncoded.subarray(0, 12), code: 'AVRO_DECODE' },
    {
      key: `${runId}-poison-schema`,
      value: Buffer.concat([Buffer.from([0, 0x7f, 0xff, 0xff, 0x0f]), validEncoded.subarray(5)]),
      code: 'UNKNOWN_SCHEMA_ID',
    },
    { key: `${runId}-poison-null`, value: null, code: 'NULL_VALUE' },
  ];
}
