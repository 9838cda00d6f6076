// The one error of configuration: the CLI prints its message on one line and exits 2.

/** A configuration value that is not of its form. `message` is the one line to print. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly value: string | undefined,
    readonly expected: string,
  ) {
    super(
      value === undefined
        ? `${variable} is required: expected ${expected}`
        : `invalid ${variable}=${JSON.stringify(value)}: expected ${expected}`,
    );
    this.name = 'ConfigError';
  }
}
