export { buildApp, watchdog, VERSION, type WatchdogOptions } from './app.js';
export { ActivationClient, activationRequestId, type ActivationOutcome, type ActivationResult } from './activation-client.js';
export { alertFor } from './alerts.js';
export { WatchdogConfig, type MonitorConfig } from './config.js';
export * from './decision.js';
export { Monitor, type Notify, type RequestActivation } from './monitor.js';
export { httpProbe, type Probe, type ProbeResult, type ProbeTarget } from './probe.js';
export { MonitorList, MonitorView } from './routes/monitors.js';
export { Scheduler, type Schedule } from './scheduler.js';
