/** Base of every error this package raises; `code` is stable and machine-readable. */
export class VigilClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'VigilClientError';
  }
}

/** The client's options are not usable: the message names the option and what is wrong. */
export class VigilConfigError extends VigilClientError {
  constructor(message: string) {
    super('VIGIL_CONFIG', message);
    this.name = 'VigilConfigError';
  }
}

/**
 * A request could not be sent: no side is known yet for its target (and no fallback is
 * configured), a switch took longer than `switchTimeout`, or too many requests are waiting.
 */
export class VigilRouteError extends VigilClientError {
  constructor(
    code: 'VIGIL_NO_STATE' | 'VIGIL_SWITCH_TIMEOUT' | 'VIGIL_TOO_MANY_WAITING' | 'VIGIL_CLOSED',
    message: string,
    readonly target: string,
  ) {
    super(code, message);
    this.name = 'VigilRouteError';
  }
}

/**
 * A request was in flight on a side that Vigil deposed, and was not repeated on the new side
 * because repeating it could apply it twice (not idempotent, no `Idempotency-Key`, or a body
 * that cannot be sent again). The old side may or may not have processed it.
 */
export class VigilSwitchedError extends VigilClientError {
  constructor(
    message: string,
    readonly target: string,
    readonly sentEpoch: number,
    readonly epoch: number,
    options?: { cause?: unknown },
  ) {
    super('VIGIL_SWITCHED', message, options);
    this.name = 'VigilSwitchedError';
  }
}
