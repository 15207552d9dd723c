export { buildApp, type ActivationApp, type AppOptions } from './app.js';
export { ActivationConfig, configProblems, DEFAULT_PORT, type TargetConfig } from './config.js';
export { decide, type Decision, type DecisionInput } from './decide.js';
export { runPlan, type PlanObserver, type PlanResult, type RunOptions } from './plan/runner.js';
export { PlanStep, stepKinds, type AttemptOutcome, type StepKind } from './plan/steps/index.js';
