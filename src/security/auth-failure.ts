/** Why a credential did not admit its caller: a reason for metrics and logs, never the credential itself. */
export type AuthFailureReason =
  | 'missing'
  | 'malformed'
  | 'unknown-key'
  | 'bad-credentials'
  | 'bad-signature'
  | 'algorithm-not-allowed'
  | 'expired'
  | 'not-yet-valid'
  | 'wrong-issuer'
  | 'wrong-audience'
  | 'no-consumer-claim'
  | 'keys-unavailable';

export class AuthFailure extends Error {
  constructor(
    readonly reason: AuthFailureReason,
    message: string,
  ) {
    super(message);
    this.name = 'AuthFailure';
  }

  /** The JWKS could not be had: not the caller's fault (503), unlike every other reason (401). */
  get unavailable(): boolean {
    return this.reason === 'keys-unavailable';
  }
}
