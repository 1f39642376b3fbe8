// Exit codes mean something: scripts and CI branch on them.
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_BAD_INPUT = 2;

/** An error the user caused (bad flags, bad lab file): reported without a stack trace, exit 2. */
export class UsageError extends Error {
  constructor(message: string | string[]) {
    super(Array.isArray(message) ? message.join("\n") : message);
  }
}
