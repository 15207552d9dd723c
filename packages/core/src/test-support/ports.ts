import { freeListenPort } from '../ports.js';

/** A port on loopback that nothing listens on: connecting to it is refused at once (or a server about to start takes it). */
export const closedPort = freeListenPort;
