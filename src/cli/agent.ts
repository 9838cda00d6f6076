// `routelet agent`: the node agent in the foreground, or `--check` for the capability probe.
import { loadConfig, ConfigError } from '../config/index.js';
import { parseOnOff } from '../config/values.js';
import { checksPassed, formatChecks, runChecks } from '../agent/check.js';
import { createLogger } from '../log.js';
import { parse } from './args.js';

function checkOptionsFromEnv(env: NodeJS.ProcessEnv) {
  const kernelText = env.ROUTELET_KERNEL;
  const kernel = kernelText === undefined ? true : parseOnOff(kernelText);
  if (kernel === undefined) throw new ConfigError('ROUTELET_KERNEL', kernelText, '"on" or "off"');
  const bpfText = env.ROUTELET_BPF?.trim().toLowerCase();
  if (bpfText !== undefined && !['on', 'auto', 'off'].includes(bpfText))
    throw new ConfigError('ROUTELET_BPF', env.ROUTELET_BPF, '"on", "auto" or "off"');
  return { kernel, bpfRequired: bpfText === 'on' };
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
