/**
 * Caps extra attempts (retries and hedges) as a share of recent calls, so an outage cannot
 * become a retry storm. Retry and hedge ask it before every extra attempt.
 */
export interface RetryBudget {
  /** Records a first attempt of a new call. */
  recordCall(): void;
  /** Spends one extra attempt; `false` when the budget is exhausted (the extra attempt must not run). */
  tryAcquire(): boolean;
  /** Feedback for token-based throttling: an attempt succeeded. */
  recordSuccess(): void;
  /** Feedback for token-based throttling: an attempt failed in a retryable way. */
  recordFailure(): void;
}
