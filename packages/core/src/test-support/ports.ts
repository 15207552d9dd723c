import { freeListenPort } from '../ports.js';

/** A port on loopback that nothing listens on: connecting to it is refused at once (or a server about to start takes it). */
export function closedPort(): Promise<number> {
  return freeListenPort();
}
