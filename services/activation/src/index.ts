export { buildApp, type ActivationApp, type AppOptions } from './app.js';
export { ActivationConfig, configProblems, DEFAULT_PORT, type TargetConfig } from './config.js';
export { decide, nextStage, type Decision, type DecisionInput, type Stage, type StageInput } from './decide.js';
export { runPlan, type PlanObserver, type PlanResult, type RunOptions } from './plan/runner.js';
export { PlanStep, stepKinds, type AttemptOutcome, type StepContext, type StepKind } from './plan/steps/index.js';
