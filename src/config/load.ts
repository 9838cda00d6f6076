// loadConfig: the environment (and the files it names) into one typed, deeply frozen Config.
// A bad value is a ConfigError naming the variable, the value given and the form expected.
import { ConfigError } from './errors.js';
import { readPeersFile, readSecretFile } from './files.js';
import { realHost, type HostFacts } from './host.js';
import { buildPeers } from './peers.js';
import type { z } from 'zod';
import { ASN, envSchema, KNOWN_VARIABLES, type Env, type VariableDoc } from './schema.js';
import type { Config } from './types.js';
import { kubernetesConfig } from './kubernetes.js';
import { hostname } from 'node:os';
import { DEFAULT_TCP_USER_TIMEOUT_MS, editDistance } from './values.js';

export interface LoadResult {
  config: Config;
  /** one line each: unknown ROUTELET_* variables, with the nearest known name */
  warnings: string[];
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !ArrayBuffer.isView(o) && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

export function unknownVariableWarnings(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const name of Object.keys(env)) {
    if (!name.startsWith('ROUTELET_') || KNOWN_VARIABLES.includes(name)) continue;
    const nearest = [...KNOWN_VARIABLES].sort((a, b) => editDistance(name, a) - editDistance(name, b))[0];
    out.push(`unknown variable ${name} is ignored; did you mean ${nearest}?`);
  }
  return out;
}

/** The variables `names` of env, each validated by its schema entry (undefined when unset). */
export function readVariables<K extends keyof Env>(env: NodeJS.ProcessEnv, names: readonly K[]): Pick<Env, K> {
  const raw: Record<string, string> = {};
  for (const key of names) {
    const val = env[key];
    if (val !== undefined) raw[key] = val;
  }
  // every entry is optional: the ones not named are simply absent
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0]);
    const doc = (envSchema.shape as Record<string, z.ZodType>)[variable]?.meta() as VariableDoc | undefined;
    throw new ConfigError(variable, raw[variable], issue.message, doc?.secret === true);
  }
  return parsed.data;
}

/** Parse and validate the environment. Throws ConfigError on the first bad value. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, host: HostFacts = realHost): LoadResult {
  const e = readVariables(env, Object.keys(envSchema.shape) as (keyof Env)[]);
  if (e.ROUTELET_ASN === undefined) throw new ConfigError('ROUTELET_ASN', undefined, ASN);
  const asn = e.ROUTELET_ASN;

  const routerId = e.ROUTELET_ROUTER_ID ?? host.firstGlobalIPv4();
  if (routerId === undefined)
    throw new ConfigError('ROUTELET_ROUTER_ID', undefined, 'a dotted quad (this host has no global IPv4 address to take it from)');

  if (e.ROUTELET_PASSWORD !== undefined && e.ROUTELET_PASSWORD_FILE !== undefined)
    throw new ConfigError('ROUTELET_PASSWORD_FILE', e.ROUTELET_PASSWORD_FILE, 'to be unset when ROUTELET_PASSWORD is set (use one of them)');
  const password =
    e.ROUTELET_PASSWORD_FILE !== undefined
      ? readSecretFile('ROUTELET_PASSWORD_FILE', e.ROUTELET_PASSWORD_FILE, host)
      : e.ROUTELET_PASSWORD;

  const connectRetry = e.ROUTELET_CONNECT_RETRY ?? 5;
  const connectRetryMax = e.ROUTELET_CONNECT_RETRY_MAX ?? Math.max(60, connectRetry);
  if (connectRetryMax < connectRetry)
    throw new ConfigError('ROUTELET_CONNECT_RETRY_MAX', String(connectRetryMax), `seconds, at least ROUTELET_CONNECT_RETRY (${connectRetry})`);

  const holdTime = e.ROUTELET_HOLD_TIME ?? 90;
  const grEnabled = e.ROUTELET_GR ?? true;
  const rrClusterId = e.ROUTELET_RR_CLUSTER_ID;
  const listenPort = e.ROUTELET_LISTEN_PORT ?? 179;
  const tcpUserTimeout = e.ROUTELET_TCP_USER_TIMEOUT ?? DEFAULT_TCP_USER_TIMEOUT_MS;
  const bfd = { enabled: e.ROUTELET_BFD ?? true, interval: e.ROUTELET_BFD_INTERVAL ?? 300, multiplier: e.ROUTELET_BFD_MULTIPLIER ?? 3 };

  const kubernetes = kubernetesConfig(e, env, host.hostName ?? hostname);
  const built = buildPeers(
    {
      ...(e.ROUTELET_PEERS !== undefined ? { env: { text: env.ROUTELET_PEERS!, peers: e.ROUTELET_PEERS } } : {}),
      ...(e.ROUTELET_PEERS_FILE !== undefined
        ? { file: { path: e.ROUTELET_PEERS_FILE, entries: readPeersFile(e.ROUTELET_PEERS_FILE, host) } }
        : {}),
    },
    {
      asn,
      port: listenPort,
      password,
      holdTime,
      keepaliveTime: e.ROUTELET_KEEPALIVE_TIME,
      tcpUserTimeout,
      gracefulRestart: grEnabled,
      reflector: rrClusterId !== undefined,
      bfd: bfd.enabled,
      bfdInterval: bfd.interval,
      bfdMultiplier: bfd.multiplier,
    },
    host,
  );
  const peers = built.filter((b) => b.nodeSelector === undefined).map((b) => b.peer);
  const selectedPeers = built.filter((b) => b.nodeSelector !== undefined).map((b) => ({ peer: b.peer, nodeSelector: b.nodeSelector }));
  if (selectedPeers.length > 0 && !kubernetes.enabled)
    throw new ConfigError(
      'ROUTELET_PEERS_FILE',
      e.ROUTELET_PEERS_FILE,
      `peers without a nodeSelector: ${selectedPeers[0]!.peer.address} has one, and only the Kubernetes mode knows this node's labels (ROUTELET_KUBERNETES is off: ${kubernetes.because})`,
    );

  const config: Config = {
    asn,
    routerId,
    listen: { address: e.ROUTELET_LISTEN_ADDRESS ?? '::', port: listenPort },
    peers,
    selectedPeers,
    listenRange: e.ROUTELET_LISTEN_RANGE ?? [],
    listenAsn: e.ROUTELET_LISTEN_ASN ?? asn,
    rrClusterId,
    password,
    holdTime,
    keepaliveTime: e.ROUTELET_KEEPALIVE_TIME,
    tcpUserTimeout,
    connectRetry,
    connectRetryMax,
    gr: {
      enabled: grEnabled,
      restartTime: e.ROUTELET_GR_RESTART_TIME ?? 120,
      wait: e.ROUTELET_GR_WAIT ?? 240,
      fastUnlock: e.ROUTELET_GR_FAST_UNLOCK ?? true,
    },
    advertise: e.ROUTELET_ADVERTISE ?? [],
    kernel: {
      enabled: e.ROUTELET_KERNEL ?? true,
      table: e.ROUTELET_KERNEL_TABLE ?? 254,
      protocol: e.ROUTELET_KERNEL_PROTOCOL ?? 201,
      metric: e.ROUTELET_KERNEL_METRIC ?? 32,
    },
    ecmpMaxPaths: e.ROUTELET_ECMP_MAX_PATHS ?? 8,
    bpf: e.ROUTELET_BPF ?? 'auto',
    bfd,
    http: e.ROUTELET_HTTP_ADDRESS ?? { host: '127.0.0.1', port: 9179 },
    logLevel: e.ROUTELET_LOG_LEVEL ?? 'info',
    v8Workers: e.ROUTELET_V8_WORKERS ?? 'batch',
    kubernetes,
  };
  return { config: deepFreeze(config), warnings: unknownVariableWarnings(env) };
}
