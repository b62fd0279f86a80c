/** Whether a private key is safe to serve: it must be sensitive and not extractable. */
import { SignerdError } from '../errors.js';
import type { KeyInfo } from './types.js';

/** What is wrong with the key's protection, in words; empty when the key is safe. */
export function keySafetyProblems(info: Pick<KeyInfo, 'sensitive' | 'extractable'>): string[] {
  const problems: string[] = [];
  if (info.extractable) problems.push('extractable (CKA_EXTRACTABLE is true)');
  if (!info.sensitive) problems.push('not sensitive (CKA_SENSITIVE is false)');
  return problems;
}

/**
 * Throws ERR_KEY_UNSAFE naming the key when it is extractable or not sensitive, unless
 * `allowExtractable` (the config's explicit override); then it returns the problems so the caller
 * can flag the key. Returns an empty list for a safe key.
 */
export function checkKeySafety(
  info: Pick<KeyInfo, 'label' | 'id' | 'sensitive' | 'extractable'>,
  allowExtractable: boolean,
): string[] {
  const problems = keySafetyProblems(info);
  if (problems.length > 0 && !allowExtractable) {
    const name = info.label ? `"${info.label}"` : `with id ${info.id}`;
    throw new SignerdError(
      'ERR_KEY_UNSAFE',
      `private key ${name} is ${problems.join(' and ')}; its secret could leave the token. Re-create it non-extractable, or set allowExtractable for this key to load it anyway`,
    );
  }
  return problems;
}
