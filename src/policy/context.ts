/** What every operation run under a policy receives. */
export interface PolicyContext {
  /** Aborts when the caller aborts, a timeout or deadline passes, or a hedge loses. `reason` says which. */
  readonly signal: AbortSignal;
  /** 1 for the first attempt; retries and hedges count up. */
  readonly attempt: number;
  /** Absolute time (on the policy's clock) by which all work must end; `Infinity` when none. */
  readonly deadline: number;
  /** Milliseconds since the enclosing retry started, when this attempt began (0 outside a retry). */
  readonly elapsed: number;
}

/** Where an execution starts from: a caller's signal and deadline, or a parent policy's context. */
export interface ExecuteOptions {
  /** The caller's signal; its abort ends the work. Default: never aborts. */
  signal?: AbortSignal;
  /** Absolute time (on the policy's clock) by which all work must end. Default `Infinity`. */
  deadline?: number;
  /** Attempt number of the enclosing work. Default 1. */
  attempt?: number;
  /** Milliseconds already spent by the enclosing retry. Default 0. */
  elapsed?: number;
}

/** An operation a policy can run: any function of the context that returns a value or a promise. */
export type Operation<T> = (ctx: PolicyContext) => Promise<T> | T;

/** A signal that never aborts; the default when the caller gives none. */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/** Fills in the defaults of {@link ExecuteOptions}. */
export function toContext(options: ExecuteOptions | undefined): PolicyContext {
  if (!options) return ROOT;
  return {
    signal: options.signal ?? NEVER_ABORTED,
    attempt: options.attempt ?? 1,
    deadline: options.deadline ?? Infinity,
    elapsed: options.elapsed ?? 0,
  };
}

const ROOT: PolicyContext = Object.freeze({ signal: NEVER_ABORTED, attempt: 1, deadline: Infinity, elapsed: 0 });
