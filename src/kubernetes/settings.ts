// The Kubernetes mode's variables, read through the configuration schema (src/config): the
// one place they are defined and documented. For callers that need only this part.
import { hostname } from 'node:os';
import { readVariables } from '../config/index.js';
import { DEFAULT_STATE_DIR, KUBERNETES_VARIABLES, kubernetesConfig } from '../config/kubernetes.js';
import type { KubernetesConfig } from '../config/types.js';

export { DEFAULT_STATE_DIR, KUBERNETES_VARIABLES };
export type KubeSettings = KubernetesConfig;

/** The Kubernetes settings of `env` (ConfigError, naming the variable, on a bad value). */
export function kubeSettings(env: NodeJS.ProcessEnv = process.env, host: () => string = hostname): KubeSettings {
  return kubernetesConfig(readVariables(env, KUBERNETES_VARIABLES), env, host);
}
