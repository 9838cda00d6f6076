// `routelet agent`: the node agent in the foreground, or `--check` for the capability probe.
import { loadConfig, readVariables } from '../config/index.js';
import { checksPassed, formatChecks, runChecks } from '../agent/check.js';
import { createLogger } from '../log.js';
import { parse } from './args.js';

/** --check needs only these two variables: the rest of the configuration may be absent. */
function checkOptionsFromEnv(env: NodeJS.ProcessEnv) {
  const e = readVariables(env, ['ROUTELET_KERNEL', 'ROUTELET_BPF']);
  return { kernel: e.ROUTELET_KERNEL ?? true, bpfRequired: e.ROUTELET_BPF === 'on' };
}

export async function agentCommand(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    {
      check: { type: 'boolean' },
      json: { type: 'boolean' },
      btf: { type: 'string' },
      cgroup: { type: 'string' },
    },
    'agent',
  );
  if (values.check) {
    const opts = { ...checkOptionsFromEnv(process.env), btfPath: values.btf, cgroupPath: values.cgroup };
    const results = runChecks(opts);
    process.stdout.write(values.json ? `${JSON.stringify(results)}\n` : `${formatChecks(results)}\n`);
    return checksPassed(results) ? 0 : 1;
  }
  const { config, warnings } = loadConfig(process.env);
  const log = createLogger(config.logLevel);
  for (const w of warnings) log.warn(w);
  const { runAgent } = await import('../agent/run.js');
  return runAgent(config, log);
}
