export type { Check, CheckResult } from './check.js';
export { CheckConfig, checkConfigWith, checks, runConfiguredCheck, type CheckKind } from './registry.js';
export { HttpCheckConfig, MAX_BODY_BYTES, createHttpCheck, http } from './http.js';
export { TcpCheckConfig, tcp } from './tcp.js';
export { runCheck } from './runner.js';
export { abortText, errorText, fail, pass, warn } from './outcome.js';
