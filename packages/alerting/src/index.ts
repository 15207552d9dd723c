export * from './alert.js';
export * from './channel.js';
export * from './channels/webhook.js';
export * from './dispatcher.js';
export * from './http.js';
export * from './registry.js';
export * from './retry.js';
