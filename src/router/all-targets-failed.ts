import type { ErrorKind } from '../llm/error-kind.js';
import { isLlmError, LlmError } from '../llm/llm-error.js';
import type { AttemptRecord } from './attempt-record.js';

/**
 * Thrown when no target produced an answer. `attempts` lists every attempt and skip in order;
 * `kind` is the most telling one (see {@link summarizeKind}), so callers and the gateway can act
 * on it like any `LlmError`; `retryAfterMs` is when the earliest target becomes available again.
 */
export class AllTargetsFailedError extends LlmError {
  readonly attempts: readonly AttemptRecord[];
  /** True when the walk stopped before trying every target, because the error would fail everywhere. */
  readonly stoppedEarly: boolean;

  constructor(attempts: readonly AttemptRecord[], options: { now: number; cause?: unknown; kind?: ErrorKind; stoppedEarly?: boolean }) {
    const kind = options.kind ?? summarizeKind(attempts);
    const status = [...attempts].reverse().find((a) => a.kind === kind && a.status !== undefined)?.status;
    super({
      kind,
      message: describe(attempts),
      status,
      retryAfterMs: retryAfter(attempts, options.now),
      code: 'all_targets_failed',
      cause: options.cause,
    });
    this.name = 'AllTargetsFailedError';
    this.attempts = attempts;
    this.stoppedEarly = options.stoppedEarly ?? false;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), attempts: this.attempts };
  }
}

/**
 * How long until a retry can succeed: when the earliest target frees up, if every target that was
 * tried is unavailable (cooling down, breaker open). A target whose last failure left it available
 * could answer now, so there is then no wait to give. Targets passed over for the request itself
 * (context window, cost, no streaming) do not count either way.
 */
function retryAfter(attempts: readonly AttemptRecord[], now: number): number | undefined {
  const latest = new Map<string, AttemptRecord>();
  for (const record of attempts) latest.set(record.target, record);
  let earliest = Infinity;
  for (const record of latest.values()) {
    if (record.availableAt !== undefined) earliest = Math.min(earliest, record.availableAt);
    else if (record.outcome === 'failure') return undefined;
  }
  return Number.isFinite(earliest) ? Math.max(0, earliest - now) : undefined;
}

/**
 * True when `error` is an {@link AllTargetsFailedError}, also one thrown by another copy of the
 * package: it checks the `LlmError` brand, the code and the `attempts` list, not the class.
 */
export function isAllTargetsFailedError(error: unknown): error is AllTargetsFailedError {
  return isLlmError(error) && error.code === 'all_targets_failed' && Array.isArray((error as { attempts?: unknown }).attempts);
}

const SKIP_KIND: Record<string, ErrorKind> = {
  cooldown: 'rate_limit',
  breaker_open: 'overloaded',
  disabled: 'auth',
  context_window: 'context_length',
  max_cost: 'invalid_request',
  no_stream: 'invalid_request',
  no_tools: 'invalid_request',
  ignored: 'invalid_request',
};

/**
 * The kind that best explains a failed call: the most frequent kind among real attempts (ties go
 * to the latest); with no attempt at all, the most frequent reason targets were skipped.
 */
export function summarizeKind(attempts: readonly AttemptRecord[]): ErrorKind {
  const failures = attempts.filter((a) => a.outcome === 'failure' && a.kind !== undefined);
  const kinds = failures.length > 0 ? failures.map((a) => a.kind!) : attempts.map((a) => SKIP_KIND[a.skipReason ?? ''] ?? 'server');
  if (kinds.length === 0) return 'invalid_request';
  const counts = new Map<ErrorKind, number>();
  let best: ErrorKind = kinds[kinds.length - 1]!;
  for (const kind of kinds) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  for (let i = kinds.length - 1; i >= 0; i--) if (counts.get(kinds[i]!)! > counts.get(best)!) best = kinds[i]!;
  return best;
}

function describe(attempts: readonly AttemptRecord[]): string {
  if (attempts.length === 0) return 'no target can serve this request';
  const parts = attempts.map((a) =>
    a.outcome === 'skipped'
      ? `${a.target} skipped (${a.skipReason}${a.message ? `: ${a.message}` : ''})`
      : a.outcome === 'success'
        ? `${a.target}#${a.attempt} answered`
        : `${a.target}#${a.attempt} ${a.kind}${a.status ? ` ${a.status}` : ''}: ${a.message ?? ''}`,
  );
  return `all targets failed: ${parts.join('; ')}`;
}
