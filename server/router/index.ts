/**
 * Model router: Grok → GPT → Claude with routing rules, retries, failover
 * before the first token, circuit breakers, tool calls, usage; the local
 * analyst when no provider key is configured. See router.ts for the policy.
 */
export { createModelRouter, DEFAULT_BASE_URLS, DEFAULT_MODELS, type ModelRouter, type RemoteProviderConfig, type RouterHealth, type RouterOptions } from './router';
export { routerOptionsFromEnv, routerEnvSchema } from './router.config';
export type { AttemptReport, ProviderName, RouteKind, StreamRequest, StreamResult, TokenUsage } from './router.types';
export { TOOL_SPECS, type ToolCallReport, type ToolExecutors, type ToolName } from './tools';
export { classifyRequest, orderProviders, BASE_ORDER } from './routing.rules';
export { createCircuitBreaker, type BreakerOptions, type BreakerSnapshot, type BreakerState, type CircuitBreaker } from './circuit-breaker';
export { composeAnalystAnswer } from './local-analyst.answer';
export { LOCAL_MODEL } from './local-analyst.provider';
export { estimatePromptTokens, estimateTokens } from './usage-meter';
