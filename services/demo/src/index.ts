export * from './apps.js';
export * from './configs.js';
export * from './processes.js';
export * from './system.js';
export * from './sample-client.js';
