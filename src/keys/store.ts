/** What the daemon and the ceremonies need from a token. src/hsm implements it over PKCS#11. */
import type { Alg, KeyInfo, KeyRef, Signer } from './types.js';

/** Private key material on its one trip into the token (`signerd keys import`). Zeroed after use. */
export type PrivateKeyMaterial =
  | {
      alg: 'ES256';
      /** 32-byte scalar */ d: Uint8Array;
      /** 65-byte uncompressed point */ publicRaw: Uint8Array;
    }
  | { alg: 'EdDSA'; /** 32-byte seed */ seed: Uint8Array; /** 32-byte public key */ publicRaw: Uint8Array };

export interface GenerateKeyRequest {
  label: string;
  alg: Alg;
  /** CKA_ID as hex; random 16 bytes when absent. */
  id?: string;
}

export interface ImportKeyRequest {
  label: string;
  key: PrivateKeyMaterial;
  id?: string;
}

export interface TokenStatus {
  label: string;
  serial: string;
  /** False while the token is gone or the daemon cannot log in. */
  present: boolean;
}

export interface KeyStore {
  /** Finds a private key (and its public half). ERR_KEY_NOT_FOUND when absent. */
  getKey(ref: KeyRef): Promise<KeyInfo>;
  listKeys(): Promise<KeyInfo[]>;
  /** A Signer for a key found by getKey; `kid` defaults to the RFC 7638 thumbprint. */
  signer(key: KeyInfo, options?: { kid?: string }): Signer;
  generateKey(request: GenerateKeyRequest): Promise<KeyInfo>;
  importKey(request: ImportKeyRequest): Promise<KeyInfo>;
  destroyKey(ref: KeyRef): Promise<void>;
  /**
   * ERR_MECHANISM_UNSUPPORTED, naming the mechanism, when the token cannot sign with `alg` (read
   * from the token). Optional: a store without it (an in-memory one) signs everything it holds.
   */
  requireSigning?(alg: Alg): Promise<void>;
  status(): TokenStatus;
  close(): Promise<void>;
}
