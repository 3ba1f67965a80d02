import type { ErrorKind } from '../llm/error-kind.js';

/** Why a target was passed over without a request. */
export type SkipReason =
  | 'breaker_open'
  | 'cooldown'
  | 'disabled'
  | 'context_window'
  | 'no_stream'
  | 'no_tools'
  | 'ignored'
  | 'max_cost';

/** One entry of a call's history: an attempt on a target, or a target skipped. */
export interface AttemptRecord {
  /** The target's id. */
  target: string;
  /** 1-based attempt number on this target (0 for a skip). */
  attempt: number;
  outcome: 'success' | 'failure' | 'skipped';
  kind?: ErrorKind;
  status?: number;
  /** Secret-free message of the failure, or the skip's explanation. */
  message?: string;
  skipReason?: SkipReason;
  /** When the target becomes available again (clock time): set on a skip, and on a failure that put it in a cooldown or opened its breaker. */
  availableAt?: number;
  /** Clock time the attempt started. */
  startedAt: number;
  durationMs: number;
  /** Time spent waiting (backoff, Retry-After) before this attempt. */
  delayBeforeMs: number;
}
