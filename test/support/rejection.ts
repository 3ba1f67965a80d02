// Awaiting a failure in tests: the error itself, or a test failure when nothing fails.
/** What a promise rejects with; fails the test when it resolves. */
export async function rejection(pending: Promise<unknown>): Promise<unknown> {
  return pending.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}
