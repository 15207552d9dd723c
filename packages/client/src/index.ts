export { VigilClient, type TargetStatus } from './client.js';
export type { VigilClientOptions, TargetOrigins } from './options.js';
export type {
  ControlPlaneErrorEvent,
  IgnoredEvent,
  RecoveredEvent,
  SideInfo,
  StaleEvent,
  StateEvent,
  StateSource,
  SwitchedEvent,
  SwitchInfo,
  SwitchRequiredEvent,
  VigilClientEvents,
} from './events.js';
export { channels } from './events.js';
export { compareStates, parseActiveState, stateId, type ActiveState, type Side } from './state.js';
export { VigilClientError, VigilConfigError, VigilRouteError, VigilSwitchedError } from './errors.js';
export { EPOCH_HEADER, FENCED_HEADER } from './headers.js';
export { EpochFence, vigilFence, type EpochFenceOptions, type FenceVerdict, type VigilFenceOptions } from './fencing.js';
export { backoffMs } from './control-plane.js';
