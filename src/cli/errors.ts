// Errors that end a command with a given exit code (CONTRACT: 1 runtime, 2 configuration/usage).
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
