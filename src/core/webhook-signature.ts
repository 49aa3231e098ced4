// The signature of a webhook delivery (header names and rule in src/contracts/webhooks.ts), and the receiver's
// check — exported so a receiver written in TypeScript, and the tests, verify with the same code.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** How old a signed timestamp a receiver should still accept, seconds. */
export const WEBHOOK_SIGNATURE_TOLERANCE_S = 300;

export const signWebhookBody = (secret: string, timestamp: number, body: string): string =>
  `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;

/** The receiver's check: right key, untouched body, fresh timestamp. */
export function isValidWebhookSignature(secret: string, headers: { timestamp?: string; signature?: string }, body: string, nowMs = Date.now()): boolean {
  const timestamp = Number(headers.timestamp);
  if (!Number.isInteger(timestamp) || !headers.signature) return false;
  if (Math.abs(nowMs / 1000 - timestamp) > WEBHOOK_SIGNATURE_TOLERANCE_S) return false;
  const expected = Buffer.from(signWebhookBody(secret, timestamp, body));
  const given = Buffer.from(headers.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

