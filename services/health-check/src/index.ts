export { buildApp, healthCheckApp, type HealthCheckAppOptions } from './app.js';
export { detailAccess } from './access.js';
export { HealthCheckConfig, HealthCheckItem, configProblems, type DetailLevel } from './config.js';
export { evaluate, healthResponse, overallStatus, singleFlight, type CheckOutcome, type Evaluation } from './health.js';
export { createHealthMetrics, type HealthMetrics } from './metrics.js';
export { openApiDocument, type RouteDoc } from './openapi.js';
export { Snapshot, createHealthSource, writeSnapshot, type Body, type HealthSource, type HealthSourceOptions } from './serving.js';
