export { buildApp, healthCheckApp, type HealthCheckAppOptions } from './app.js';
export { HealthCheckConfig, HealthCheckItem, configProblems } from './config.js';
export { evaluate, healthResponse, overallStatus, singleFlight, type CheckOutcome, type Evaluation } from './health.js';
export { createHealthMetrics, type HealthMetrics } from './metrics.js';
