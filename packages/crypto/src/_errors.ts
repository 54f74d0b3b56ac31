/**
 * The one error type of @privface/crypto. `code` is stable and is what callers and tests match on;
 * `message` says what was expected and what arrived, and never contains key material or plaintext.
 */
export type CryptoErrorCode =
  | "ENVELOPE_TRUNCATED" // shorter than its header says, or than any valid envelope
  | "UNSUPPORTED_VERSION" // envelope version byte we do not know
  | "UNKNOWN_SUITE" // suite byte / suite name we do not know
  | "SUITE_MISMATCH" // envelope or key of another suite than the key used to open / verify it
  | "AUTH_FAILED" // AEAD tag does not verify: wrong key, wrong AAD, or altered ciphertext / header
  | "BAD_PUBLIC_KEY" // not a valid point / wrong length
  | "BAD_KEY" // malformed key (file)
  | "UNKNOWN_KEY_ID" // data-key blob names a key id we do not hold
  | "BAD_SIGNED_JSON" // signed JSON container malformed or signature invalid
  | "KEY_SECRET_MISSING" // no key-file secret in the environment (PRIVFACE_KEY_SECRET / _FILE), or too short
  | "WRONG_KEY_SECRET" // an encrypted key file does not open under the secret given
  | "PLAINTEXT_KEY_FILE" // a key file holds private material in the clear (refused: encrypt it)
  | "PKCS11_UNAVAILABLE" // the PKCS#11 module or its npm binding cannot be loaded
  | "PKCS11_ERROR"; // a PKCS#11 call failed (token, object or mechanism)

export class CryptoError extends Error {
  readonly code: CryptoErrorCode;
  constructor(code: CryptoErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = "CryptoError";
    this.code = code;
  }
}
