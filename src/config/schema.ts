// The schemas of routelet's configuration: the environment of `routelet agent` and the
// entries of ROUTELET_PEERS_FILE. Each value is validated here; the loader (load.ts)
// combines them into one Config.
import { z } from 'zod';
import { parseIP } from '../net/ip.js';
import { compilePrefixRange } from '../net/prefixlist.js';
import { parseSelector } from './selector.js';
import { BFD_AUTH_TYPES, bfdAuthKeyMax, DEFAULT_REFLECTOR_COUNT, type BpfMode, type KubernetesMode, type LogLevel, type V8WorkerPolicy } from './types.js';
import { LOG_LEVELS } from './types.js';
import {
  checkUserTimeout,
  parseAsn,
  parseCidrList,
  parseHostPort,
  parseOnOff,
  parsePeerList,
  parseRouterId,
  parseTable,
  parseUint,
  TCP_USER_TIMEOUT_MS,
} from './values.js';

export const ASN = 'an AS number 1–4294967295, asplain or asdot (65000.10)';
export const HOLD = 'seconds, 0 or 3–65535';
const KEEPALIVE = 'seconds, 1–21845';
const USER_TIMEOUT = `milliseconds, 0 (off) or ${TCP_USER_TIMEOUT_MS.min}–${TCP_USER_TIMEOUT_MS.max}`;
const ONOFF = '"on" or "off"';
const BFD_INTERVAL = 'milliseconds, 10–60000';
const BFD_MULTIPLIER = 'a number 1–255';
/** A Node name: a lower-case DNS subdomain (RFC 1123), at most 253 characters. */
export const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;


/** A variable whose text is read by `parse`; undefined from parse means "not of the form". */
function v<T>(expected: string, parse: (s: string) => T | undefined) {
  return z.string().transform((s, ctx): T => {
    const out = parse(s);
    if (out === undefined) {
      ctx.addIssue({ code: 'custom', message: expected });
      return z.NEVER;
    }
    return out;
  });
}

export const holdTime = (s: string) => {
  const n = parseUint(s, 0, 65535);
  return n === undefined || n === 1 || n === 2 ? undefined : n;
};

/** What the configuration reference (docs/CONFIGURATION.md) says of one variable. */
export interface VariableDoc {
  /** the default as an operator reads it */
  readonly default: string;
  /** the default as the variable's own text, when there is one: setting it changes nothing */
  readonly defaultValue?: string;
  /** the form and range accepted; also the "expected …" of the error */
  readonly range: string;
  readonly example: string;
  readonly description: string;
  /** not in the contract's table: an extension of it */
  readonly extension?: boolean;
  /** a key: an error names the variable and the length of the value, never the value */
  readonly secret?: boolean;
}

/** A variable whose text is read by `parse`, documented by `doc`. */
function variable<T>(doc: VariableDoc, parse: (s: string) => T | undefined) {
  return v(doc.range, parse).optional().meta({ ...doc });
}

/** A variable taken as it is (a path), documented by `doc`. */
function text(doc: VariableDoc) {
  return z.string().optional().meta({ ...doc });
}

/** The schema of the environment: one entry per variable of docs/CONTRACT.md, each with its documentation. */
export const envSchema = z.object({
  ROUTELET_ASN: variable(
    { default: 'required', range: ASN, example: '65000', description: 'The local AS number.' },
    parseAsn,
  ),
  ROUTELET_ROUTER_ID: variable(
    {
      default: 'the first global IPv4 address of the host',
      range: 'a BGP identifier as a dotted quad other than 0.0.0.0',
      example: '192.0.2.10',
      description: 'The BGP identifier. A host without a global IPv4 address (IPv6 only) must set it.',
    },
    parseRouterId,
  ),
  ROUTELET_LISTEN_ADDRESS: variable(
    {
      default: '`::` (dual stack)',
      defaultValue: '::',
      range: 'an IPv4 or IPv6 address',
      example: '10.0.0.1',
      description: 'The address on which the agent accepts BGP connections.',
    },
    (s) => parseIP(s.trim()) && s.trim(),
  ),
  ROUTELET_LISTEN_PORT: variable(
    {
      default: '`179`',
      defaultValue: '179',
      range: 'a TCP port 1–65535',
      example: '1179',
      description: 'The BGP port: the one the agent listens on, and the one it connects to for peers without their own.',
    },
    (s) => parseUint(s, 1, 65535),
  ),
  ROUTELET_PEERS: variable(
    {
      default: 'no peers',
      range: 'comma-separated ADDRESS[:PORT]@ASN, IPv6 as [fd00::2]:1179@65001',
      example: '10.0.0.2@65000,[fd00::3]:1179@65001',
      description:
        'The peers, each `ADDRESS[:PORT]@ASN` (the ASN asplain or asdot). A peer whose ASN is the local one is iBGP. ' +
        'Each address once; multicast, broadcast, unspecified and link-local addresses (with or without a zone) and the node’s own addresses are refused.',
    },
    parsePeerList,
  ),
  ROUTELET_PEERS_FILE: text({
    default: 'unset',
    range: 'the path of a YAML or JSON list of peers (see "The peers file" below)',
    example: '/etc/routelet/peers.yaml',
    description:
      'Peers with per-peer options, merged with `ROUTELET_PEERS` by address: a peer in both takes the options the file sets (the file wins on conflict) ' +
      'and keeps the rest (a port) from `ROUTELET_PEERS`. The same address with another ASN in the two, or twice in the file, is an error; the addresses ' +
      'are checked as in `ROUTELET_PEERS`. Re-read on SIGHUP.',
  }),
  ROUTELET_LISTEN_RANGE: variable(
    {
      default: 'none',
      range: 'comma-separated CIDR prefixes such as 10.0.0.0/16',
      example: '10.0.0.0/16,fd00::/64',
      description: 'Prefixes from which unconfigured peers may connect (dynamic neighbours). Connections from elsewhere that match no peer are refused.',
    },
    parseCidrList,
  ),
  ROUTELET_LISTEN_ASN: variable(
    { default: '`ROUTELET_ASN`', range: ASN, example: '65001', description: 'The AS expected of dynamic neighbours.' },
    parseAsn,
  ),
  ROUTELET_RR_CLUSTER_ID: variable(
    {
      default: 'unset (no route reflection)',
      range: 'a cluster ID as a dotted quad (or 32-bit number) other than 0',
      example: '10.0.0.1',
      description:
        'Set: route-reflector mode (RFC 4456). Every iBGP peer, dynamic ones included, is a client unless its `routeReflectorClient` option says otherwise.',
    },
    parseRouterId,
  ),
  ROUTELET_PASSWORD: variable(
    {
      default: 'unset',
      range: 'a TCP-MD5 key of 1–80 bytes',
      example: 'mesh-secret',
      secret: true,
      description: 'The TCP-MD5 key (RFC 2385) of every peer without its own, dynamic neighbours included. Never printed, also not in errors.',
    },
    (s) => (s.length >= 1 && Buffer.byteLength(s) <= 80 ? s : undefined),
  ),
  ROUTELET_PASSWORD_FILE: text({
    default: 'unset',
    range: 'the path of a file holding a TCP-MD5 key of 1–80 bytes (one trailing newline is dropped); not together with ROUTELET_PASSWORD',
    example: '/etc/routelet/secret/password',
    description: 'The same key read from a file, for a Kubernetes Secret mount.',
  }),
  ROUTELET_HOLD_TIME: variable(
    {
      default: '`90`',
      defaultValue: '90',
      range: HOLD,
      example: '30',
      description: 'The hold time offered in OPEN; the negotiated one is the smaller of both sides. Keepalives go every third of it.',
    },
    holdTime,
  ),
  ROUTELET_KEEPALIVE_TIME: variable(
    {
      default: 'a third of the negotiated hold time',
      range: KEEPALIVE,
      example: '1',
      extension: true,
      description:
        'Send KEEPALIVEs this often when it is shorter than a third of the negotiated hold time. A host that vanishes under an idle session is seen only once ' +
        'something is sent to it; a short interval lets the BPF programs see the retransmission sooner.',
    },
    (s) => parseUint(s, 1, 21845),
  ),
  ROUTELET_TCP_USER_TIMEOUT: variable(
    {
      default: '`5000`',
      defaultValue: '5000',
      range: USER_TIMEOUT,
      example: '300',
      extension: true,
      description:
        '`TCP_USER_TIMEOUT` on the peer connections once connected, and the session’s own check (TCP_INFO, that long after each write). Data unacknowledged ' +
        'that long fails the connection (ETIMEDOUT), and the fast unlock closes the session and withdraws the peer’s routes: a host that goes silent is noticed ' +
        'at the next KEEPALIVE plus this long instead of at hold-timer expiry. With BPF the session’s minimum RTO is lowered to a sixth of it (10–200 ms). ' +
        'Pair it with `ROUTELET_KEEPALIVE_TIME=1` for detection within about a second and a half; on a lossy or long path keep it at several round trips. ' +
        'The default, 5000 ms with the default keepalive, was chosen by measurement (bench/README.md, `npm run bench:keepalive-loss`): a host gone silent under a ' +
        'session without BFD is noticed within the next keepalive plus 5 s (measured 15–20 s, at most about 35 s) instead of at the hold timer (88 s), while a ' +
        'healthy session on a path losing 20 % of packets both ways fails about once in 200 keepalives (0.6 per hour), and no false reset was measured at 10 %. ' +
        '`0` turns it off (the kernel’s retransmission limits, many minutes, and the hold timer).',
    },
    (s) => checkUserTimeout(parseUint(s, 0, TCP_USER_TIMEOUT_MS.max)),
  ),
  ROUTELET_CONNECT_RETRY: variable(
    {
      default: '`5`',
      defaultValue: '5',
      range: 'seconds, 1–3600',
      example: '2',
      description: 'Seconds before the first reconnect to a peer; the wait doubles with each failure up to `ROUTELET_CONNECT_RETRY_MAX`.',
    },
    (s) => parseUint(s, 1, 3600),
  ),
  ROUTELET_CONNECT_RETRY_MAX: variable(
    {
      default: '`60`, or `ROUTELET_CONNECT_RETRY` when that is longer',
      range: 'seconds, 1–86400, at least ROUTELET_CONNECT_RETRY',
      example: '120',
      description: 'The longest wait between reconnects.',
    },
    (s) => parseUint(s, 1, 86400),
  ),
  ROUTELET_GR: variable(
    {
      default: '`on`',
      defaultValue: 'on',
      range: `${ONOFF} (also true/false, yes/no, 1/0)`,
      example: 'off',
      description: 'Graceful restart (RFC 4724), both as restarting speaker and as helper.',
    },
    parseOnOff,
  ),
  ROUTELET_GR_RESTART_TIME: variable(
    {
      default: '`120`',
      defaultValue: '120',
      range: 'seconds, 0–4095 (the 12-bit field of RFC 4724)',
      example: '300',
      description: 'Seconds advertised to peers as the restart time, and the longest a peer’s stale routes are kept.',
    },
    (s) => parseUint(s, 0, 4095),
  ),
  ROUTELET_GR_WAIT: variable(
    {
      default: '`240`',
      defaultValue: '240',
      range: 'seconds, 0–86400',
      example: '30',
      description: 'The longest the agent, after its own restart, waits for End-of-RIB from its peers before it syncs the kernel and sweeps stale routes.',
    },
    (s) => parseUint(s, 0, 86400),
  ),
  ROUTELET_GR_FAST_UNLOCK: variable(
    {
      default: '`on`',
      defaultValue: 'on',
      range: `${ONOFF} (also true/false, yes/no, 1/0)`,
      example: 'off',
      description:
        'A peer whose connection fails with ECONNREFUSED or EHOSTUNREACH (or whose session shows the host gone) stops holding graceful restart: the agent ' +
        'stops waiting for it and drops its stale routes at once. `off` restores the classic behaviour, for comparison.',
    },
    parseOnOff,
  ),
  ROUTELET_BFD: variable(
    {
      default: '`on`',
      defaultValue: 'on',
      range: `${ONOFF} (also true/false, yes/no, 1/0)`,
      example: 'off',
      description:
        'BFD (RFC 5880, single hop RFC 5881, multihop RFC 5883 for `multihop` peers) toward every configured peer, on a native thread. Only a BFD session ' +
        'that was Up and goes Down for a reason other than an administrative shutdown acts: the BGP session closes at once and the peer’s routes are ' +
        'withdrawn, not kept stale. A peer that never answers BFD is never affected. Per peer: `bfd`, and `bfdAuth` for authentication. In the ' +
        'Kubernetes mode, per node for the node-to-node sessions: the annotation `routelet.io/bfd` (`"true"`/`"false"`; off on either node wins), ' +
        'with `routelet.io/bfd-interval` and `routelet.io/bfd-multiplier` (the larger of the two nodes applies); see src/kubernetes/README.md.',
    },
    parseOnOff,
  ),
  ROUTELET_BFD_INTERVAL: variable(
    {
      default: '`300`',
      defaultValue: '300',
      range: BFD_INTERVAL,
      example: '100',
      description: 'The BFD transmit and receive interval we ask for (Desired Min TX and Required Min RX); the peer’s own values are negotiated with it. Per peer: `bfdInterval`.',
    },
    (s) => parseUint(s, 10, 60000),
  ),
  ROUTELET_BFD_MULTIPLIER: variable(
    {
      default: '`3`',
      defaultValue: '3',
      range: BFD_MULTIPLIER,
      example: '5',
      description: 'BFD packets missed in a row before the peer detects our session down (Detect Mult); ours is the peer’s multiplier × the negotiated interval. Per peer: `bfdMultiplier`.',
    },
    (s) => parseUint(s, 1, 255),
  ),
  ROUTELET_ADVERTISE: variable(
    {
      default: 'none',
      range: 'comma-separated CIDR prefixes with no host bits set, such as 10.65.3.0/26',
      example: '10.65.3.0/26,fd00:65::/112',
      description: 'Prefixes this node originates (its pod CIDR blocks).',
    },
    parseCidrList,
  ),
  ROUTELET_KERNEL: variable(
    {
      default: '`on`',
      defaultValue: 'on',
      range: `${ONOFF} (also true/false, yes/no, 1/0)`,
      example: 'off',
      description: 'Install the best routes into the kernel.',
    },
    parseOnOff,
  ),
  ROUTELET_KERNEL_TABLE: variable(
    {
      default: '`main` (254)',
      defaultValue: 'main',
      range: 'a routing table name from rt_tables (main, local, default) or a number 1–4294967295',
      example: '100',
      description: 'The kernel routing table the routes go into.',
    },
    (s) => parseTable(s),
  ),
  ROUTELET_KERNEL_PROTOCOL: variable(
    {
      default: '`201`',
      defaultValue: '201',
      range: 'an rtm_protocol number 1–255',
      example: '42',
      description: 'The `rtm_protocol` that marks the agent’s routes (`ip route show proto 201`); on start the agent adopts routes of it as stale.',
    },
    (s) => parseUint(s, 1, 255),
  ),
  ROUTELET_KERNEL_METRIC: variable(
    {
      default: '`32`',
      defaultValue: '32',
      range: 'a route metric (RTA_PRIORITY) 0–4294967295',
      example: '100',
      description:
        'The metric the agent’s routes carry (`ip route show proto 201` shows `metric 32`). The agent never replaces or deletes a route of another protocol: ' +
        'a prefix that a route of another owner holds at this metric in the table (a static route, another daemon’s) stays that route’s and is reported ' +
        '(`kernel: "failed: EEXIST (…)"`, `/readyz`), and installed once it goes. The default is BIRD’s (its kernel protocol writes metric 32), so the ' +
        'agent’s routes win and lose against the node’s own routes exactly as calico-node’s did: IPv4 connected routes (metric 0) win over them, ' +
        'DHCP (100) and router-advertisement (1024) routes lose. A metric of 0 would share its key with every IPv4 connected route.',
    },
    (s) => parseUint(s, 0, 2 ** 32 - 1),
  ),
  ROUTELET_ECMP_MAX_PATHS: variable(
    {
      default: '`8`',
      defaultValue: '8',
      range: 'a number of paths 1–256',
      example: '1',
      description: 'Equal-cost paths installed as one multipath route; 1 disables ECMP.',
    },
    (s) => parseUint(s, 1, 256),
  ),
  ROUTELET_BPF: variable(
    {
      default: '`auto`',
      defaultValue: 'auto',
      range: '"on", "auto" or "off"',
      example: 'off',
      description:
        '`on`: fail to start without the BPF programs (peer-health evidence); `auto`: use them where the kernel allows, else say so once and fall back to ' +
        'Node’s socket errors; `off`.',
    },
    (s) => {
      const t = s.trim().toLowerCase();
      return t === 'on' || t === 'auto' || t === 'off' ? (t as BpfMode) : undefined;
    },
  ),
  ROUTELET_HTTP_ADDRESS: variable(
    {
      default: '`127.0.0.1:9179`',
      defaultValue: '127.0.0.1:9179',
      range: 'HOST:PORT with an IP address, IPv6 as [::1]:9179',
      example: '0.0.0.0:9179',
      description: 'Where health (`/livez`, `/readyz`), metrics (`/metrics`) and the API (`/api/v1/…`) are served; `routelet status` and `routes` read it too.',
    },
    (s) => parseHostPort(s),
  ),
  ROUTELET_KUBERNETES: variable(
    {
      default: '`auto`',
      defaultValue: 'auto',
      range: '"auto", "on" or "off"',
      example: 'on',
      description:
        'The Kubernetes mode: the peers (node mesh or route reflectors) and this node’s pod CIDRs come from the Kubernetes API, read with the in-cluster ' +
        'service account, else `KUBECONFIG`. `auto`: on when running in a pod (`KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT` set) or when ' +
        '`KUBECONFIG` is set. The Node and Lease objects are watched; a Node’s `spec.podCIDRs` are advertised in addition to `ROUTELET_ADVERTISE`; a Node ' +
        'deleted ends its sessions (Cease/Peer De-configured); a node whose Lease expired or whose Ready condition is False/Unknown while its session is ' +
        'down stops holding graceful restart. The annotations of src/kubernetes/README.md (`routelet.io/asn`, `routelet.io/route-reflector`, ' +
        '`routelet.io/peers`, `routelet.io/bfd`, `routelet.io/bfd-interval`, `routelet.io/bfd-multiplier`) override per node.',
    },
    (s) => {
      const t = s.trim().toLowerCase();
      return t === 'auto' || t === 'on' || t === 'off' ? (t as KubernetesMode) : undefined;
    },
  ),
  ROUTELET_NODE_NAME: variable(
    {
      default: 'the host name (lower case)',
      range: 'a Node name: a lower-case DNS subdomain of at most 253 characters',
      example: 'worker-1',
      description: 'This node’s Node object in the Kubernetes mode. The DaemonSet sets it from `spec.nodeName` (the downward API).',
    },
    (s) => (NODE_NAME.test(s.trim()) ? s.trim() : undefined),
  ),
  ROUTELET_STATE_DIR: variable(
    {
      default: '`/var/lib/routelet`',
      defaultValue: '/var/lib/routelet',
      range: 'an absolute directory path',
      example: '/run/routelet',
      description:
        'Where the agent keeps what must survive its restart on this node: `kubernetes.json`, the last known peer set and pod CIDRs from the Kubernetes API ' +
        '(no password). A restarting agent that cannot reach the API starts from it. Written atomically (temporary file, fsync, rename).',
    },
    (s) => (s.startsWith('/') ? s : undefined),
  ),
  ROUTELET_RR_NODE_SELECTOR: variable(
    {
      default: 'unset (full node mesh, or automatic reflectors with `ROUTELET_RR_AUTO`)',
      range: 'a Kubernetes label selector in its text form, such as routelet.io/route-reflector=true (`k=v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`)',
      example: 'routelet.io/route-reflector=true',
      description:
        'The nodes whose labels match are route reflectors: they peer with each other and serve every other node of their AS as route-reflector clients; ' +
        'the clients peer with the reflectors only. The annotation `routelet.io/route-reflector: "true"`/`"false"` overrides the selector for its node. ' +
        'A selector matching no node gives the full mesh (no route lost). The cluster ID is `ROUTELET_RR_CLUSTER_ID`, else each node’s router ID. ' +
        'Not together with `ROUTELET_RR_AUTO`.',
    },
    (s) => {
      if (s.trim() === '') return null; // set empty: as unset
      const sel = parseSelector(s);
      return sel && sel.length > 0 ? sel : undefined;
    },
  ),
  ROUTELET_RR_AUTO: variable(
    {
      default: '`off`',
      defaultValue: 'off',
      range: '"off", "on" (3 reflectors) or a number of reflectors 1–64',
      example: '3',
      extension: true,
      description:
        'Automatic route reflectors: every agent computes the same set from the Node list alone — Ready nodes with an InternalIP, the longest Ready first, ' +
        'one per `topology.kubernetes.io/zone` before a second in any zone. A reflector stays one while it stays Ready. Switching between the mesh and ' +
        'reflectors is make-before-break. Not together with `ROUTELET_RR_NODE_SELECTOR`.',
    },
    (s) => {
      const t = s.trim().toLowerCase();
      if (t === 'off' || t === '') return 0;
      if (t === 'on') return DEFAULT_REFLECTOR_COUNT;
      return parseUint(t, 1, 64);
    },
  ),
  ROUTELET_NODE_LEASE_GRACE: variable(
    {
      default: '`0`',
      defaultValue: '0',
      range: 'seconds, 0–3600',
      example: '10',
      extension: true,
      description:
        'Seconds beyond a node’s Lease `leaseDurationSeconds` (in `kube-node-lease`) before the Lease counts as expired: the node is then dead for graceful ' +
        'restart while its BGP session is down, and its stale routes go at once.',
    },
    (s) => parseUint(s, 0, 3600),
  ),
  ROUTELET_V8_WORKERS: variable(
    {
      default: '`batch`',
      defaultValue: 'batch',
      range: '"batch" or "normal"',
      example: 'normal',
      extension: true,
      description:
        'The scheduling policy of V8’s worker threads (background compiles, concurrent garbage collection). `batch`: SCHED_BATCH while the agent is ' +
        'quiet — the same share of the CPU, but a worker that wakes does not preempt the JavaScript thread, which holds a route’s path (it did, for ' +
        '0.5–3 ms at a time, on an otherwise idle CPU) — and as Node starts them during bulk work (a table arriving, large FIB batches) and 1 s ' +
        'after it, where they help the garbage collector; `normal`: as Node starts them, always. No privilege is needed. `routelet bench fib` runs ' +
        'its FIB as the agent would, with this setting.',
    },
    (s) => {
      const t = s.trim().toLowerCase();
      return t === 'batch' || t === 'normal' ? (t as V8WorkerPolicy) : undefined;
    },
  ),
  ROUTELET_LOG_LEVEL: variable(
    {
      default: '`info`',
      defaultValue: 'info',
      range: `one of ${LOG_LEVELS.join(', ')}`,
      example: 'debug',
      description: 'The pino level of the JSON log lines on stdout.',
    },
    (s) => {
      const t = s.trim().toLowerCase();
      return (LOG_LEVELS as readonly string[]).includes(t) ? (t as LogLevel) : undefined;
    },
  ),
});
export type Env = z.infer<typeof envSchema>;

/** What the configuration reference says of one option of a peer in ROUTELET_PEERS_FILE. */
export interface OptionDoc {
  readonly form: string;
  readonly default: string;
  readonly description: string;
  readonly extension?: boolean;
}

const opt = <S extends z.ZodType>(schema: S, doc: OptionDoc) => schema.meta({ ...doc });

/**
 * A peer's `bfdAuth`: the type, the key ID, and the key itself (`password`) or a file holding it
 * (`passwordFile`, read by peers.ts). An error names the field and never echoes the key.
 */
const bfdAuth = z
  .object({
    type: z.enum(BFD_AUTH_TYPES, { message: `one of ${BFD_AUTH_TYPES.join(', ')}` }),
    keyId: z.number({ message: 'a key ID 0–255' }).int().min(0).max(255),
    password: z.string({ message: 'the key as a string' }).optional(),
    passwordFile: z.string({ message: 'a path' }).optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    if ((a.password === undefined) === (a.passwordFile === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'the key: one of password or passwordFile' });
      return;
    }
    if (a.password !== undefined) {
      const n = Buffer.byteLength(a.password);
      const max = bfdAuthKeyMax(a.type);
      if (n < 1 || n > max) ctx.addIssue({ code: 'custom', path: ['password'], message: `a ${a.type} key of 1–${max} bytes (value hidden, ${n} bytes)` });
    }
  });

/** Options one peer may set in ROUTELET_PEERS_FILE, each with its documentation. */
export const peerFileEntry = z
  .object({
    address: opt(z.string().refine((s) => parseIP(s.trim()) !== undefined, 'an IPv4 or IPv6 address'), {
      form: 'IPv4 or IPv6 address',
      default: 'required',
      description: 'The peer’s address.',
    }),
    port: opt(z.number().int().min(1).max(65535).optional(), {
      form: 'number 1–65535',
      default: '`ROUTELET_LISTEN_PORT`',
      description: 'The peer’s BGP port.',
    }),
    asn: opt(
      z.union([z.number(), z.string()]).transform((a, ctx) => {
        // YAML reads an unquoted asdot 65000.10 as the number 65000.1: another AS, silently
        if (typeof a === 'number' && !Number.isInteger(a)) {
          ctx.addIssue({
            code: 'custom',
            message: `an integer or a quoted asdot string: the number ${a} has a fraction (YAML reads an unquoted 65000.10 as 65000.1); quote asdot AS numbers, asn: "65000.10"`,
          });
          return 0;
        }
        const n = parseAsn(String(a));
        if (n === undefined) ctx.addIssue({ code: 'custom', message: 'an AS number 1–4294967295' });
        return n ?? 0;
      }),
      { form: 'number, or asdot as a quoted string ("65000.10")', default: 'required', description: 'The peer’s AS; the local one makes the peer iBGP.' },
    ),
    password: opt(z.string().min(1).max(80).optional(), {
      form: 'string of 1–80 bytes',
      default: '`ROUTELET_PASSWORD`',
      description: 'The peer’s own TCP-MD5 key.',
    }),
    passwordFile: opt(z.string().optional(), {
      form: 'path',
      default: 'unset',
      description: 'The peer’s TCP-MD5 key read from a file (one trailing newline dropped).',
      extension: true,
    }),
    holdTime: opt(z.number().int().refine((n) => holdTime(String(n)) !== undefined, HOLD).optional(), {
      form: HOLD,
      default: '`ROUTELET_HOLD_TIME`',
      description: 'The hold time offered to this peer.',
    }),
    keepaliveTime: opt(z.number().int().min(1).max(21845).optional(), {
      form: KEEPALIVE,
      default: '`ROUTELET_KEEPALIVE_TIME`',
      description: 'As `ROUTELET_KEEPALIVE_TIME`, for this peer.',
      extension: true,
    }),
    tcpUserTimeout: opt(z.number().int().refine((n) => checkUserTimeout(n) !== undefined, USER_TIMEOUT).optional(), {
      form: USER_TIMEOUT,
      default: '`ROUTELET_TCP_USER_TIMEOUT`',
      description: 'As `ROUTELET_TCP_USER_TIMEOUT`, for this peer.',
      extension: true,
    }),
    passive: opt(z.boolean().optional(), {
      form: 'boolean',
      default: '`false`',
      description: 'Never connect to the peer; wait for it to connect.',
    }),
    routeReflectorClient: opt(z.boolean().optional(), {
      form: 'boolean',
      default: '`true` for iBGP peers when `ROUTELET_RR_CLUSTER_ID` is set, else `false`',
      description: 'The peer is a route-reflector client.',
    }),
    ttlSecurity: opt(z.union([z.boolean(), z.number().int().min(1).max(254)]).optional(), {
      form: 'boolean or number of hops 1–254',
      default: '`false`',
      description: 'GTSM (RFC 5082): accept only packets from at most this many hops away (`true`: 1, a directly connected peer).',
    }),
    multihop: opt(z.union([z.boolean(), z.number().int().min(1).max(255)]).optional(), {
      form: 'boolean or TTL 1–255',
      default: '`false` (TTL 1 for eBGP, 64 for iBGP)',
      description: 'The TTL of the agent’s packets to the peer (`true`: 255).',
    }),
    gracefulRestart: opt(z.boolean().optional(), {
      form: 'boolean',
      default: '`ROUTELET_GR`',
      description: 'Graceful restart with this peer.',
    }),
    bfd: opt(z.boolean().optional(), {
      form: 'boolean',
      default: '`ROUTELET_BFD`',
      description: 'BFD with this peer (single hop, or multihop when `multihop` is set).',
    }),
    bfdInterval: opt(z.number().int().min(10).max(60000).optional(), {
      form: BFD_INTERVAL,
      default: '`ROUTELET_BFD_INTERVAL`',
      description: 'As `ROUTELET_BFD_INTERVAL`, for this peer. A change on SIGHUP re-times the BFD session (a poll sequence), the BGP session stays.',
      extension: true,
    }),
    bfdMultiplier: opt(z.number().int().min(1).max(255).optional(), {
      form: BFD_MULTIPLIER,
      default: '`ROUTELET_BFD_MULTIPLIER`',
      description: 'As `ROUTELET_BFD_MULTIPLIER`, for this peer. A change on SIGHUP re-times the BFD session, the BGP session stays.',
      extension: true,
    }),
    bfdAuth: opt(bfdAuth.optional(), {
      form: `{ type, keyId, password or passwordFile }: type one of ${BFD_AUTH_TYPES.join(', ')}; keyId 0–255; the key 1–16 bytes (simple, MD5) or 1–20 bytes (SHA1)`,
      default: 'unset (no authentication)',
      description:
        'BFD authentication with this peer (RFC 5880 §6.7), as BIRD’s `authentication keyed sha1; password "…" { id N; }`: both ends need the same type, key ID and key. ' +
        '`password` holds the key, or `passwordFile` names a file holding it (one trailing newline dropped; for a Kubernetes Secret mount) — one of the two. ' +
        'A session with a mismatched key never comes Up, which harms nothing (only an Up session going Down acts); its failures show in `/api/v1/peers` ' +
        '(`bfd.authFailures`). The key is never logged nor shown: `/api/v1/peers` shows the type and key ID only. Not in `routelet.io/peers` annotations ' +
        '(readable by everyone who may read Nodes). A change on SIGHUP makes the BFD session again; the BGP session stays. FRR’s bfdd has no RFC 5880 ' +
        'authentication to match: use it with BIRD, Junos, IOS-XR and the like.',
      extension: true,
    }),
    maxPrefixes: opt(z.number().int().min(1).optional(), {
      form: 'number ≥ 1',
      default: 'no limit',
      description: 'More prefixes from the peer than this close its session with Cease/Maximum Number of Prefixes Reached (RFC 4486).',
      extension: true,
    }),
    nodeSelector: opt(z.string().refine((s) => parseSelector(s) !== undefined, 'a label selector such as topology.kubernetes.io/zone=rack-12').optional(), {
      form: 'label selector, such as `routelet.io/tor=rack-12` (`k=v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`)',
      default: 'unset (every node)',
      description:
        'Kubernetes mode only: the peer is this node’s when the selector matches this node’s labels — an external peer such as a top-of-rack router ' +
        'that only some nodes peer with. Without the Kubernetes mode a peer with a selector is an error.',
      extension: true,
    }),
    description: opt(z.string().optional(), {
      form: 'string',
      default: 'unset',
      description: 'Free text shown with the peer.',
      extension: true,
    }),
    allowDefault: opt(z.boolean().optional(), {
      form: 'boolean',
      default: '`false`',
      description:
        'Accept a default route (0.0.0.0/0, ::/0) from this peer. **What every peer’s routes pass by default (import sanity, before the decision):** a prefix inside a martian block (0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/4, 240.0.0.0/4, ::/128, ::1/128, fe80::/10, ff00::/8) is rejected; so is a default route, a prefix holding one of the node’s own addresses at least as specific as that address’s connected subnet, and a route whose next hop is the node’s own or a loopback address. Anything else is accepted. Rejected routes never reach the decision or the kernel; `/api/v1/routes` shows them with `"rejected": "<reason>"`, `/api/v1/peers` counts them in `prefixes.rejected` by reason (`martian`, `default`, `local`, `next-hop`, `not-allowed`), `/metrics` in `routelet_bgp_import_rejected_total{peer,reason}`.',
      extension: true,
    }),
    allowLinkLocal: opt(z.boolean().optional(), {
      form: 'boolean',
      default: '`false`',
      description: 'Accept prefixes inside 169.254.0.0/16 from this peer (fe80::/10 is never accepted).',
      extension: true,
    }),
    importPrefixes: opt(
      z
        .array(z.union([z.string(), z.object({ prefix: z.string(), ge: z.number().int().optional(), le: z.number().int().optional() }).strict()]))
        .superRefine((l, ctx) => {
          for (const r of l) {
            try {
              compilePrefixRange(r);
            } catch (e) {
              ctx.addIssue({ code: 'custom', message: (e as Error).message });
            }
          }
        })
        .optional(),
      {
        form: 'list of `"PREFIX [ge N] [le N]"` or `{ prefix, ge, le }`',
        default: 'none: no limit',
        description:
          'The only ranges accepted from this peer, after the rules of `allowDefault`, with prefix-list semantics (`"10.64.0.0/10 le 26"`: /10 to /26 inside 10.64.0.0/10; a bare prefix: that exact length) — the way Calico accepts only its IP pools. A peer with `allowDefault` need not list the default route. A malformed entry exits 2 naming it.',
        extension: true,
      },
    ),
  })
  .strict();
export type PeerFileEntry = z.infer<typeof peerFileEntry>;

/** Variables read outside the agent's configuration, with their documentation. */
export const OTHER_VARIABLES: Readonly<Record<string, VariableDoc>> = {
  ROUTELET_ADDON_PATH: {
    default: '`build/Release/routelet_native.node` in the checkout',
    range: 'the path of a built routelet_native.node',
    example: '/opt/routelet/routelet_native.node',
    extension: true,
    description: 'Where every `routelet` command loads the native addon from (read by src/native/addon.ts); for development and packaging.',
  },
  ROUTELET_TEST_BLOCK_LOOP_MS: {
    default: 'unset',
    range: 'milliseconds; read only when NODE_ENV=test',
    example: '3000',
    extension: true,
    description: 'Test builds only (src/agent/testhook.ts): SIGUSR2 makes `routelet agent` block its JavaScript event loop this long, for the BFD robustness test. Ignored unless NODE_ENV=test.',
  },
  ROUTELET_NETLINK_FLOOR: {
    default: '`--floor PATH` if given (it must exist: no other is looked for then), else a `netlink-floor` program in `shared/bench/` beside the checkout',
    range: 'the path of the netlink-floor reference loader (a small C program batching RTM_NEWROUTE)',
    example: '/usr/local/bin/netlink-floor',
    extension: true,
    description: 'The raw-netlink reference loader (the floor) that `routelet bench fib` runs beside routelet and `ip -batch`; the benchmark stops, naming where it looked, when none is found.',
  },
};

/** Every variable the agent reads; an unknown ROUTELET_* variable gets a warning. */
export const KNOWN_VARIABLES: readonly string[] = [...Object.keys(envSchema.shape), 'ROUTELET_ADDON_PATH'];
