// The one error of configuration: the CLI prints its message on one line and exits 2.

/** A configuration value that is not of its form. `message` is the one line to print. */
export class ConfigError extends Error {
  /** the value given; undefined when the variable is unset or its value is a secret */
  readonly value: string | undefined;

  /**
   * `secret`: the value is a key; the message says only how long it is, never the value
   * (an error line ends up in logs, terminals and CI output).
   */
  constructor(
    readonly variable: string,
    value: string | undefined,
    readonly expected: string,
    secret = false,
  ) {
    super(
      value === undefined
        ? `${variable} is required: expected ${expected}`
        : secret
          ? `invalid ${variable} (value hidden, ${Buffer.byteLength(value)} bytes): expected ${expected}`
          : `invalid ${variable}=${JSON.stringify(value)}: expected ${expected}`,
    );
    this.value = secret ? undefined : value;
    this.name = 'ConfigError';
  }
}
