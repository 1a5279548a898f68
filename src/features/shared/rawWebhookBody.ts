import express, { type RequestHandler } from 'express';

/**
 * A webhook's body as the raw bytes it arrived with (whatever its Content-Type), so the signature is
 * checked over exactly what was signed and nothing is parsed first. Up to 256 KiB.
 */
export const rawWebhookBody: RequestHandler = express.raw({ type: () => true, limit: '256kb' });

/** The bytes `rawWebhookBody` kept; an empty buffer when there was no body. */
export const bodyBytes = (body: unknown): Buffer => (Buffer.isBuffer(body) ? body : Buffer.alloc(0));
