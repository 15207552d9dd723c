/**
 * Why a leadership ended (or never held):
 * - `deadline`: the leader's own clock passed `last successful keepalive sent + TTL − margin`;
 * - `lost`: etcd answered that the lease no longer exists (expired or revoked);
 * - `superseded`: a guarded write found the leader key gone or re-created (someone else leads);
 * - `resigned`: the leader gave leadership up, or the campaign was abandoned.
 */
export type NotLeaderReason = 'deadline' | 'lost' | 'superseded' | 'resigned';

/** A write or an action refused because the caller does not (or no longer) hold leadership. */
export class NotLeaderError extends Error {
  override readonly name = 'NotLeaderError';
  constructor(
    readonly reason: NotLeaderReason,
    message: string,
  ) {
    super(message);
  }
}
