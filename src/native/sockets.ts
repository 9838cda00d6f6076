// Facade of the BGP socket part of the addon (native/sockets.cc, native/sockets_poll.cc).
// Every argument is validated here before native code sees it; kernel refusals come back as
// Errors in Node's shape (errno, code, syscall), per-key outcomes as NativeOutcome.
import { parseIP } from '../net/ip.js';
import { addon, checkInt, systemError, type NativeOutcome, type SystemError } from './addon.js';

export type SocketFamily = 4 | 6;

export interface Endpoint {
  address: string;
  port: number;
  family: SocketFamily;
}

/** Integer socket options by their kernel names. */
export type SocketOption =
  | 'SO_REUSEADDR'
  | 'SO_REUSEPORT'
  | 'SO_KEEPALIVE'
  | 'SO_ERROR'
  | 'SO_RCVBUF'
  | 'SO_SNDBUF'
  | 'IP_TTL'
  | 'IP_MINTTL'
  | 'IP_TOS'
  | 'IPV6_V6ONLY'
  | 'IPV6_UNICAST_HOPS'
  | 'IPV6_MINHOPCOUNT'
  | 'IPV6_TCLASS'
  | 'TCP_NODELAY'
  | 'TCP_SYNCNT'
  | 'TCP_USER_TIMEOUT';

const OPTIONS: ReadonlySet<string> = new Set<SocketOption>([
  'SO_REUSEADDR', 'SO_REUSEPORT', 'SO_KEEPALIVE', 'SO_ERROR', 'SO_RCVBUF', 'SO_SNDBUF', 'IP_TTL', 'IP_MINTTL', 'IP_TOS',
  'IPV6_V6ONLY', 'IPV6_UNICAST_HOPS', 'IPV6_MINHOPCOUNT', 'IPV6_TCLASS', 'TCP_NODELAY', 'TCP_SYNCNT', 'TCP_USER_TIMEOUT',
]);

export interface TcpInfo {
  state: string;
  rttUs: number;
  rttVarUs: number;
  rtoUs: number;
  retransmits: number;
  totalRetrans: number;
  unacked: number;
  lastDataRecvMs: number;
  lastAckRecvMs: number;
  /** listening sockets: connections waiting to be accepted */
  acceptQueue?: number;
  /** listening sockets: the backlog in effect (the kernel caps it at net.core.somaxconn) */
  backlog?: number;
}

export interface SocketInfo {
  family: SocketFamily;
  local: Endpoint;
  remote: Endpoint | null;
  /** pending socket error (SO_ERROR) as its errno name */
  error: string | null;
  /** bytes of option memory the socket holds (TCP-MD5 keys live here), limited by net.core.optmem_max */
  optmem?: number;
  tcp?: TcpInfo;
}

export interface Md5Capacity {
  /** keys one socket took before the kernel refused the next */
  keys: number;
  /** option memory one key costs, measured */
  bytesPerKey: number;
  /** option memory held when full */
  optmem: number;
  /** why the next key was refused (ENOMEM when the option memory is spent) */
  code?: string;
  errno?: number;
}

/** One connection taken from a listening socket; its fd is the caller's to wrap or to close. */
export interface AcceptedFd extends Endpoint {
  fd: number;
}

interface RawWatch {
  accept(): void;
  connect(address: string, port: number): NativeOutcome | null;
  pause(): void;
  resume(): void;
  stop(): void;
  ref(): void;
  unref(): void;
}

interface SocketsAddon {
  sockOpen(family: SocketFamily, netns?: string): number;
  sockSetOption(fd: number, name: string, value: number): void;
  sockGetOption(fd: number, name: string): number;
  sockBind(fd: number, address: string, port: number): void;
  sockListen(fd: number, backlog: number): void;
  sockClose(fd: number, reset: boolean): void;
  sockMd5(fd: number, address: string, prefixLength: number, key?: Buffer): NativeOutcome;
  sockMd5Capacity(family: SocketFamily, netns?: string, limit?: number): Md5Capacity;
  sockAttachReuseportCbpf(fd: number, program: Buffer): void;
  sockInfo(fd: number): SocketInfo;
  sockSysctls(names: string[], netns?: string): Record<string, number | null>;
  SocketWatch: new (fd: number, cb: (err: NativeOutcome | null, value: unknown) => void) => RawWatch;
}

const a = () => addon<SocketsAddon>();

/** The TCP-MD5 key length limit of the kernel (TCP_MD5SIG_MAXKEYLEN). */
export const MD5_MAX_KEY_BYTES = 80;

function checkFd(fd: number): void {
  checkInt('fd', fd, 0, 2 ** 31 - 1);
}

function checkFamily(family: number): asserts family is SocketFamily {
  if (family !== 4 && family !== 6) throw new RangeError(`family must be 4 or 6, got ${family}`);
}

function checkAddress(address: string): SocketFamily {
  const ip = typeof address === 'string' ? parseIP(address) : undefined;
  if (!ip) throw new TypeError(`not an IP address: ${JSON.stringify(address)}`);
  return ip.family;
}

function checkNetns(netns: string | undefined): void {
  if (netns !== undefined && (typeof netns !== 'string' || netns === '' || netns.includes('\0')))
    throw new TypeError(`netns must be a path such as /var/run/netns/NAME, got ${JSON.stringify(netns)}`);
}

function keyBytes(key: string | Uint8Array): Buffer {
  const b = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key);
  if (b.length < 1 || b.length > MD5_MAX_KEY_BYTES)
    throw new RangeError(`a TCP-MD5 key must be 1–${MD5_MAX_KEY_BYTES} bytes, got ${b.length}`);
  return b;
}

export const sockets = {
  /** A non-blocking, close-on-exec TCP socket; in the network namespace at `netns` when given. */
  open(family: SocketFamily, netns?: string): number {
    checkFamily(family);
    checkNetns(netns);
    return a().sockOpen(family, netns);
  },
  setOption(fd: number, name: SocketOption, value: number): void {
    checkFd(fd);
    if (!OPTIONS.has(name)) throw new TypeError(`unknown socket option ${String(name)}`);
    checkInt(name, value, -1, 2 ** 31 - 1);
    a().sockSetOption(fd, name, value);
  },
  getOption(fd: number, name: SocketOption): number {
    checkFd(fd);
    if (!OPTIONS.has(name)) throw new TypeError(`unknown socket option ${String(name)}`);
    return a().sockGetOption(fd, name);
  },
  bind(fd: number, address: string, port: number): void {
    checkFd(fd);
    checkAddress(address);
    checkInt('port', port, 0, 65535);
    a().sockBind(fd, address, port);
  },
  listen(fd: number, backlog: number): void {
    checkFd(fd);
    checkInt('backlog', backlog, 1, 2 ** 31 - 1);
    a().sockListen(fd, backlog);
  },
  /** Close the fd; with `reset`, the peer gets a RST (SO_LINGER 0) and no TIME_WAIT remains. */
  close(fd: number, reset = false): void {
    checkFd(fd);
    a().sockClose(fd, reset);
  },
  /**
   * Set (key given) or delete (key null) the TCP-MD5 key for `address/prefixLength` on fd.
   * IPv4 prefixes on an IPv6 socket are set in the v4-mapped form the kernel matches IPv4
   * peers of a dual-stack socket against. Never throws for a kernel refusal: the outcome says.
   */
  md5(fd: number, address: string, prefixLength: number, key: string | Uint8Array | null): NativeOutcome {
    checkFd(fd);
    const family = checkAddress(address);
    checkInt('prefixLength', prefixLength, 0, family === 4 ? 32 : 128);
    return key === null ? a().sockMd5(fd, address, prefixLength) : a().sockMd5(fd, address, prefixLength, keyBytes(key));
  },
  /** Measure how many TCP-MD5 keys one socket holds in the namespace (fills a scratch socket until refused). */
  md5Capacity(family: SocketFamily, netns?: string, limit = 1 << 20): Md5Capacity {
    checkFamily(family);
    checkNetns(netns);
    checkInt('limit', limit, 1, 1 << 24);
    return a().sockMd5Capacity(family, netns, limit);
  },
  /** Attach a classic BPF program selecting the member of fd's SO_REUSEPORT group by index. */
  attachReuseportCbpf(fd: number, program: Buffer): void {
    checkFd(fd);
    if (!Buffer.isBuffer(program) || program.length === 0 || program.length % 8 !== 0 || program.length / 8 > 4096)
      throw new RangeError('a classic BPF program is 1–4096 instructions of 8 bytes');
    a().sockAttachReuseportCbpf(fd, program);
  },
  info(fd: number): SocketInfo {
    checkFd(fd);
    return a().sockInfo(fd);
  },
  /** Integer sysctls (paths under /proc/sys such as "net/core/somaxconn") as seen in `netns`. */
  sysctls<K extends string>(names: readonly K[], netns?: string): Record<K, number | null> {
    for (const n of names) if (!/^[a-z0-9_]+(\/[a-z0-9_.-]+)+$/i.test(n) || n.includes('..')) throw new TypeError(`not a sysctl path: ${n}`);
    checkNetns(netns);
    return a().sockSysctls([...names], netns) as Record<K, number | null>;
  },
};

export interface AcceptWatch {
  /** stop taking connections for now (they wait in the kernel's accept queue) */
  pause(): void;
  resume(): void;
  /** stop for good; the listening fd stays the caller's */
  stop(): void;
  /** do not keep the process alive for this watch alone */
  unref(): void;
}

/**
 * Take connections from the listening socket fd on Node's event loop (uv_poll). Each wakeup
 * accepts up to 256 and calls onBatch once. When the process is out of descriptors or memory,
 * accepting pauses and onBatch gets the error; call resume() to try again.
 */
export function watchAccept(fd: number, onBatch: (err: SystemError | null, conns: AcceptedFd[]) => void): AcceptWatch {
  checkFd(fd);
  const w = new (a().SocketWatch)(fd, (err, value) => onBatch(err ? systemError(err) : null, value as AcceptedFd[]));
  w.accept();
  return { pause: () => w.pause(), resume: () => w.resume(), stop: () => w.stop(), unref: () => w.unref() };
}

/** A connect() error in the shape Node gives its own: `connect ECONNREFUSED 10.0.0.1:179`. */
export function connectError(o: Pick<NativeOutcome, 'errno' | 'code' | 'syscall'>, address: string, port: number): SystemError & { address: string; port: number } {
  const code = o.code ?? 'EUNKNOWN';
  const where = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
  const e = new Error(`${o.syscall ?? 'connect'} ${code} ${where}`) as SystemError & { address: string; port: number };
  e.errno = o.errno ?? 0;
  e.code = code;
  e.syscall = o.syscall ?? 'connect';
  e.address = address;
  e.port = port;
  return e;
}

export interface ConnectWatch {
  /** abandon the attempt; the callback is not called, the fd stays the caller's */
  cancel(): void;
}

/**
 * Start a non-blocking connect() of fd to address:port; done(null) once connected or
 * done(err) with the kernel's errno (ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, ETIMEDOUT, …),
 * always on a later turn of the event loop. The fd stays the caller's either way.
 */
export function watchConnect(fd: number, address: string, port: number, done: (err: (SystemError & { address: string; port: number }) | null) => void): ConnectWatch {
  checkFd(fd);
  checkAddress(address);
  checkInt('port', port, 1, 65535);
  let live = true;
  const w = new (a().SocketWatch)(fd, (err) => {
    if (!live) return;
    live = false;
    done(err ? connectError(err, address, port) : null);
  });
  const immediate = w.connect(address, port);
  if (immediate) {
    live = false;
    const err = connectError(immediate, address, port);
    const t = setImmediate(() => done(err));
    return { cancel: () => clearImmediate(t) };
  }
  return {
    cancel: () => {
      if (!live) return;
      live = false;
      w.stop();
    },
  };
}
