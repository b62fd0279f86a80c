/**
 * Random identifiers for nonces and JWT ids. Bytes come from the CSPRNG in 4 KiB batches (one
 * `randomFillSync` per 256 identifiers instead of one per identifier); every byte is used once.
 */
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

/** 16 fresh random bytes as 32 lower-case hex digits. */
export function randomHex16(): string {
  if (offset + 16 > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + 16);
  offset += 16;
  return hex;
}
