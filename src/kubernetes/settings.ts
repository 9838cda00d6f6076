// The Kubernetes mode's variables, read from the environment. Kept here until src/config takes
// them in (CONTRACT.md additions); errors are the ConfigError of src/config, one line each.
import { hostname } from 'node:os';
import { ConfigError } from '../config/index.js';
import { parseUint } from '../config/values.js';
import type { ReflectorSettings } from './peers.js';
import { DEFAULT_REFLECTOR_COUNT } from './reflectors.js';
import { parseSelector } from './selector.js';

export const KUBERNETES_VARIABLES = [
  'ROUTELET_KUBERNETES',
  'ROUTELET_NODE_NAME',
  'ROUTELET_RR_NODE_SELECTOR',
  'ROUTELET_RR_AUTO',
  'ROUTELET_STATE_DIR',
  'ROUTELET_NODE_LEASE_GRACE',
] as const;

export const DEFAULT_STATE_DIR = '/var/lib/routelet';

export interface KubeSettings {
  readonly enabled: boolean;
  /** why enabled or not, for the log */
  readonly because: string;
  readonly nodeName: string;
  readonly reflectors: ReflectorSettings;
  readonly stateDir: string;
  /** beyond the Lease's leaseDurationSeconds before it counts as expired */
  readonly leaseGraceMs: number;
}

/**
 * ROUTELET_KUBERNETES auto|on|off (default auto: on in a pod — KUBERNETES_SERVICE_HOST and
 * _PORT set — or when KUBECONFIG is set); ROUTELET_NODE_NAME (default the host name);
 * ROUTELET_RR_NODE_SELECTOR (a label selector: reflectors by label) or ROUTELET_RR_AUTO
 * (a number of reflectors chosen automatically; "off" or unset: none), not both — neither:
 * full mesh; ROUTELET_STATE_DIR (default /var/lib/routelet); ROUTELET_NODE_LEASE_GRACE
 * (seconds, default 0).
 */
export function kubeSettings(env: NodeJS.ProcessEnv = process.env, host: () => string = hostname): KubeSettings {
  const modeText = (env.ROUTELET_KUBERNETES ?? 'auto').trim().toLowerCase();
  if (!['auto', 'on', 'off'].includes(modeText)) throw new ConfigError('ROUTELET_KUBERNETES', env.ROUTELET_KUBERNETES, '"auto", "on" or "off"');
  const inPod = Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT);
  const enabled = modeText === 'on' || (modeText === 'auto' && (inPod || Boolean(env.KUBECONFIG)));
  const because =
    modeText !== 'auto'
      ? `ROUTELET_KUBERNETES=${modeText}`
      : inPod
        ? 'running in a pod (KUBERNETES_SERVICE_HOST)'
        : env.KUBECONFIG
          ? 'KUBECONFIG is set'
          : 'not in a pod and no KUBECONFIG';

  const nodeName = (env.ROUTELET_NODE_NAME ?? host()).trim();
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(nodeName))
    throw new ConfigError('ROUTELET_NODE_NAME', env.ROUTELET_NODE_NAME ?? nodeName, 'a Node name (lower-case DNS subdomain)');

  let reflectors: ReflectorSettings = { mode: 'mesh' };
  const sel = env.ROUTELET_RR_NODE_SELECTOR;
  const auto = env.ROUTELET_RR_AUTO?.trim().toLowerCase();
  if (sel !== undefined && sel.trim() !== '') {
    const selector = parseSelector(sel);
    if (!selector || selector.length === 0)
      throw new ConfigError('ROUTELET_RR_NODE_SELECTOR', sel, 'a label selector such as routelet.io/route-reflector=true');
    reflectors = { mode: 'selector', selector };
  }
  if (auto !== undefined && auto !== '' && auto !== 'off') {
    if (reflectors.mode !== 'mesh')
      throw new ConfigError('ROUTELET_RR_AUTO', env.ROUTELET_RR_AUTO, 'to be unset or "off" when ROUTELET_RR_NODE_SELECTOR is set (use one of them)');
    const count = auto === 'on' ? DEFAULT_REFLECTOR_COUNT : parseUint(auto, 1, 64);
    if (count === undefined) throw new ConfigError('ROUTELET_RR_AUTO', env.ROUTELET_RR_AUTO, '"off", "on" (3 reflectors) or a number of reflectors 1–64');
    reflectors = { mode: 'auto', count };
  }

  const stateDir = env.ROUTELET_STATE_DIR ?? DEFAULT_STATE_DIR;
  if (!stateDir.startsWith('/')) throw new ConfigError('ROUTELET_STATE_DIR', stateDir, 'an absolute directory path');
  const grace = env.ROUTELET_NODE_LEASE_GRACE !== undefined ? parseUint(env.ROUTELET_NODE_LEASE_GRACE, 0, 3600) : 0;
  if (grace === undefined) throw new ConfigError('ROUTELET_NODE_LEASE_GRACE', env.ROUTELET_NODE_LEASE_GRACE, 'seconds, 0–3600');
  return { enabled, because, nodeName, reflectors, stateDir, leaseGraceMs: grace * 1000 };
}
