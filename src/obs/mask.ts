/**
 * Phone-number masking for logs: keep the country code and the last two digits
 * (`393471234567` → `39*******67`), so an operator can tell a country and eyeball a retry
 * without the log holding personal data.
 */

// E.164 country codes of one and two digits; every other code has three (ITU-T E.164 assignment list).
const ONE_DIGIT = new Set(['1', '7']);
const TWO_DIGIT = new Set([
  '20',
  '27',
  '30',
  '31',
  '32',
  '33',
  '34',
  '36',
  '39',
  '40',
  '41',
  '43',
  '44',
  '45',
  '46',
  '47',
  '48',
  '49',
  '51',
  '52',
  '53',
  '54',
  '55',
  '56',
  '57',
  '58',
  '60',
  '61',
  '62',
  '63',
  '64',
  '65',
  '66',
  '81',
  '82',
  '84',
  '86',
  '90',
  '91',
  '92',
  '93',
  '94',
  '95',
  '98',
]);

export function countryCodeLength(digits: string): number {
  if (ONE_DIGIT.has(digits.slice(0, 1))) return 1;
  if (TWO_DIGIT.has(digits.slice(0, 2))) return 2;
  return 3;
}

/** Masks a phone number; alphanumeric sender IDs (brands, not people) pass unchanged. */
export function maskMsisdn(value: string): string {
  const digits = value.replace(/^\+|^00/, '').replace(/[\s-]/g, '');
  if (!/^\d{5,}$/.test(digits)) return value;
  const keep = countryCodeLength(digits);
  return digits.slice(0, keep) + '*'.repeat(Math.max(digits.length - keep - 2, 1)) + digits.slice(-2);
}

/**
 * A run of digits that is probably a phone number: `+` and 8-15 digits, or 11-15 digits (an
 * international number with its country code). Shorter runs are left alone so that schema ids
 * (up to 10 digits), offsets and sizes stay readable; longer ones are no E.164 number.
 */
const NUMBER_IN_TEXT = /(?<![\d+])(?:\+\d{8,15}|\d{11,15})(?!\d)/g;

/** Masks every phone-number-like run of digits in free text (error messages, DLQ headers). */
export function maskNumbersIn(text: string): string {
  return text.replace(NUMBER_IN_TEXT, (n) => maskMsisdn(n));
}
