// Option parsing shared by the subcommands: a usage error exits 2 naming the flag.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';

/** node:util's parse error as one plain line: the flag, what is wrong with it, where the usage is. */
function usageLine(e: Error & { code?: string }, command: string): string {
  const see = `see routelet ${command} --help`;
  const flag = /'(-[^' ]+)/.exec(e.message)?.[1];
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag) return `routelet ${command}: unknown option ${flag}; ${see}`;
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag) {
    const needsValue = /argument missing/.test(e.message);
    return `routelet ${command}: option ${flag} ${needsValue ? 'needs a value' : 'takes no value'}; ${see}`;
  }
  return `routelet ${command}: ${e.message.replace(/\.$/, '')}; ${see}`;
}

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, command: string) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(usageLine(e as Error & { code?: string }, command));
  }
}
