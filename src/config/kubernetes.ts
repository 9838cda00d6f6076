// The Kubernetes mode's settings from the validated variables (schema.ts): the mode, the node
// name, the reflector choice, the state directory and the Lease grace.
import { ConfigError } from './errors.js';
import { NODE_NAME, type Env } from './schema.js';
import type { KubernetesConfig } from './types.js';
import type { ReflectorSettings } from './types.js';

export const DEFAULT_STATE_DIR = '/var/lib/routelet';

/** The variables of the Kubernetes mode, in the schema. */
export const KUBERNETES_VARIABLES = [
  'ROUTELET_KUBERNETES',
  'ROUTELET_NODE_NAME',
  'ROUTELET_RR_NODE_SELECTOR',
  'ROUTELET_RR_AUTO',
  'ROUTELET_STATE_DIR',
  'ROUTELET_NODE_LEASE_GRACE',
] as const;

type KubeEnv = Pick<Env, (typeof KUBERNETES_VARIABLES)[number]>;

/**
 * `auto` is on in a pod (KUBERNETES_SERVICE_HOST and _PORT set) or with KUBECONFIG. The node
 * name defaults to the host name in lower case; a host name that is no Node name is an error
 * only when the mode is on.
 */
export function kubernetesConfig(e: KubeEnv, env: NodeJS.ProcessEnv, hostName: () => string): KubernetesConfig {
  const mode = e.ROUTELET_KUBERNETES ?? 'auto';
  const inPod = Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT);
  const enabled = mode === 'on' || (mode === 'auto' && (inPod || Boolean(env.KUBECONFIG)));
  const because =
    mode !== 'auto'
      ? `ROUTELET_KUBERNETES=${mode}`
      : inPod
        ? 'running in a pod (KUBERNETES_SERVICE_HOST)'
        : env.KUBECONFIG
          ? 'KUBECONFIG is set'
          : 'not in a pod and no KUBECONFIG';

  const nodeName = e.ROUTELET_NODE_NAME ?? hostName().trim().toLowerCase();
  if (enabled && !NODE_NAME.test(nodeName))
    throw new ConfigError('ROUTELET_NODE_NAME', undefined, `a Node name (lower-case DNS subdomain); the host name ${JSON.stringify(nodeName)} is none, set it`);

  let reflectors: ReflectorSettings = { mode: 'mesh' };
  if (e.ROUTELET_RR_NODE_SELECTOR !== undefined && e.ROUTELET_RR_NODE_SELECTOR !== null) reflectors = { mode: 'selector', selector: e.ROUTELET_RR_NODE_SELECTOR };
  if (e.ROUTELET_RR_AUTO !== undefined && e.ROUTELET_RR_AUTO > 0) {
    if (reflectors.mode !== 'mesh')
      throw new ConfigError('ROUTELET_RR_AUTO', env.ROUTELET_RR_AUTO, 'to be unset or "off" when ROUTELET_RR_NODE_SELECTOR is set (use one of them)');
    reflectors = { mode: 'auto', count: e.ROUTELET_RR_AUTO };
  }
  return {
    mode,
    enabled,
    because,
    nodeName,
    reflectors,
    stateDir: e.ROUTELET_STATE_DIR ?? DEFAULT_STATE_DIR,
    leaseGraceMs: (e.ROUTELET_NODE_LEASE_GRACE ?? 0) * 1000,
  };
}
