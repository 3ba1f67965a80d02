import type { ChatResponse } from '../llm/chat-response.js';
import type { ErrorKind } from '../llm/error-kind.js';

type Usage = NonNullable<ChatResponse['usage']>;
import type { LlmError } from '../llm/llm-error.js';
import type { Dispose, Emitter } from '../policy/events.js';
import type { CircuitState } from '../policy/circuit-breaker.js';
import type { AttemptRecord } from './attempt-record.js';
import type { CooldownReason } from './target-runtime.js';

/** Fields every router event carries. */
interface RouterEventBase {
  /** The call's id (unique per router), to group the events of one request. */
  callId: number;
  /** Clock time of the event. */
  at: number;
}

/** An attempt starts on a target. */
export interface RouterAttemptEvent extends RouterEventBase {
  type: 'attempt';
  target: string;
  attempt: number;
  stream: boolean;
}
/** An attempt failed and the same target will be tried again after `delay`. */
export interface RouterRetryEvent extends RouterEventBase {
  type: 'retry';
  target: string;
  attempt: number;
  delay: number;
  kind: ErrorKind;
  status?: number;
}
/** The call moves from one target to the next. */
export interface RouterFallbackEvent extends RouterEventBase {
  type: 'fallback';
  from: string;
  to: string;
  error: LlmError;
}
/** A hedge started another target because the first was slow. */
export interface RouterHedgeEvent extends RouterEventBase {
  type: 'hedge';
  target: string;
  afterMs: number;
}
/** A target's breaker changed state. */
export interface RouterBreakerEvent {
  type: 'breaker';
  at: number;
  target: string;
  from: CircuitState;
  to: CircuitState;
}
/** A target will be skipped until `until`. */
export interface RouterCooldownEvent extends RouterEventBase {
  type: 'cooldown';
  target: string;
  until: number;
  reason: CooldownReason;
}
/** The call got an answer. */
export interface RouterSuccessEvent extends RouterEventBase {
  type: 'success';
  target: string;
  stream: boolean;
  durationMs: number;
  /** Streams: time from the request to the first content event. */
  ttftMs?: number;
  /** Tokens used, when the provider reported them. */
  usage?: Usage;
  attempts: readonly AttemptRecord[];
}
/** The call failed on every target (or stopped on a non-retryable error). */
export interface RouterFailureEvent extends RouterEventBase {
  type: 'failure';
  stream: boolean;
  durationMs: number;
  error: LlmError;
  attempts: readonly AttemptRecord[];
}

/** Every decision the router takes, as an event. */
export type RouterEvent =
  | RouterAttemptEvent
  | RouterRetryEvent
  | RouterFallbackEvent
  | RouterHedgeEvent
  | RouterBreakerEvent
  | RouterCooldownEvent
  | RouterSuccessEvent
  | RouterFailureEvent;

/** The event type names. */
export type RouterEventType = RouterEvent['type'];

/** The subscription methods both routers offer, over one emitter of router events. */
export interface RouterEventSubscriptions {
  /** Listens to one event type (`'fallback'`, `'retry'`, …) or to all with `'*'`. */
  on<K extends RouterEventType>(type: K, listener: (event: Extract<RouterEvent, { type: K }>) => void): Dispose;
  on(type: '*', listener: (event: RouterEvent) => void): Dispose;
  /** `onFallback((from, to, error) => …)`. */
  onFallback(listener: (from: string, to: string, error: LlmError) => void): Dispose;
  /** Called when a call failed on every target (not on the caller's own abort), with its attempts. */
  onAllFailed(listener: (error: LlmError, attempts: readonly AttemptRecord[]) => void): Dispose;
}

/** Builds {@link RouterEventSubscriptions} over an emitter. */
export function routerEventSubscriptions(events: Emitter<RouterEvent>): RouterEventSubscriptions {
  return {
    on(type: RouterEventType | '*', listener: (event: never) => void): Dispose {
      const l = listener as (event: RouterEvent) => void;
      return events.on(type === '*' ? l : (event) => event.type === type && l(event));
    },
    onFallback(listener) {
      return events.on((event) => {
        if (event.type === 'fallback') listener(event.from, event.to, event.error);
      });
    },
    onAllFailed(listener) {
      return events.on((event) => {
        if (event.type === 'failure' && event.error.kind !== 'aborted') listener(event.error, event.attempts);
      });
    },
  };
}
