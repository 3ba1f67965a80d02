import type { ChatRequest } from '../llm/chat-request.js';
import type { TargetRuntime } from './target-runtime.js';

/** What a strategy may look at besides the targets. */
export interface StrategyInput {
  request: ChatRequest;
  stream: boolean;
  /** A number in [0, 1) (seeded in tests and the simulator). */
  random: () => number;
}

/**
 * Orders the candidate targets for one call: the router tries them in the returned order.
 * Receives only the targets that may serve the request; must not mutate them.
 */
export type Strategy = (candidates: readonly TargetRuntime[], input: StrategyInput) => readonly TargetRuntime[];

/** Lowest `priority` first; ties keep the configured order. */
export const priorityStrategy: Strategy = (candidates) =>
  [...candidates].sort((a, b) => a.target.priority - b.target.priority);
