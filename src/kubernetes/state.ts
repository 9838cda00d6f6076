// The on-node cache of what the API last said: this node's peers and pod CIDRs, so that an agent
// that restarts while the API server is unreachable starts from them. Written atomically
// (temporary file, fsync, rename, fsync of the directory): a reader sees the old file or the new
// one, never a part. Passwords are not written: the agent's configuration supplies them again.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { KubePeer } from './peers.js';

export const STATE_FILE = 'kubernetes.json';
const VERSION = 1;

export interface KubeState {
  readonly nodeName: string;
  /** ms since the epoch */
  readonly writtenAt: number;
  readonly asn: number;
  readonly peers: readonly KubePeer[];
  readonly podCIDRs: readonly string[];
}

const peerSchema = z.object({
  address: z.string(),
  family: z.union([z.literal(4), z.literal(6)]),
  port: z.number().int(),
  asn: z.number().int(),
  ibgp: z.boolean(),
  holdTime: z.number().int(),
  keepaliveTime: z.number().int().optional(),
  tcpUserTimeout: z.number().int(),
  passive: z.boolean(),
  routeReflectorClient: z.boolean(),
  ttlSecurity: z.number().int(),
  multihop: z.number().int(),
  gracefulRestart: z.boolean(),
  maxPrefixes: z.number().int().optional(),
  description: z.string().optional(),
  bfd: z.boolean().optional(),
  bfdInterval: z.number().int().optional(),
  bfdMultiplier: z.number().int().optional(),
  origin: z.enum(['mesh', 'reflector', 'annotation', 'file']),
  nodeName: z.string().optional(),
});

const fileSchema = z.object({
  version: z.literal(VERSION),
  nodeName: z.string(),
  writtenAt: z.number(),
  asn: z.number().int(),
  peers: z.array(peerSchema),
  podCIDRs: z.array(z.string()),
});

/** Write the state to `${dir}/kubernetes.json` atomically (mode 0600; the directory is created). */
export function writeState(dir: string, state: KubeState): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, STATE_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  const doc = {
    version: VERSION,
    nodeName: state.nodeName,
    writtenAt: state.writtenAt,
    asn: state.asn,
    podCIDRs: state.podCIDRs,
    // no secret on disk: neither the TCP-MD5 key nor a peers-file peer's BFD key
    peers: state.peers.map(({ password: _password, bfdAuth: _bfdAuth, ...p }) => p),
  };
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify(doc, null, 1) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const d = openSync(dir, 'r');
  try {
    fsyncSync(d);
  } finally {
    closeSync(d);
  }
}

export type ReadStateResult =
  | { readonly ok: true; readonly state: KubeState }
  | { readonly ok: false; readonly reason: string };

/**
 * Read `${dir}/kubernetes.json`. `password` is put back on every peer (the agent's password for
 * generated peers). A missing, unreadable or malformed file, or one written for another node, is
 * a reason, not an exception: the caller starts with no Kubernetes peers then.
 */
export function readState(dir: string, nodeName: string, password: string | undefined): ReadStateResult {
  let text: string;
  try {
    text = readFileSync(join(dir, STATE_FILE), 'utf8');
  } catch (e) {
    return { ok: false, reason: `no state file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: `state file is not JSON (${(e as Error).message})` };
  }
  const parsed = fileSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ok: false, reason: `state file malformed at ${issue.path.join('.')}: ${issue.message}` };
  }
  const s = parsed.data;
  if (s.nodeName !== nodeName) return { ok: false, reason: `state file is for node ${s.nodeName}, not ${nodeName}` };
  return {
    ok: true,
    state: {
      nodeName: s.nodeName,
      writtenAt: s.writtenAt,
      asn: s.asn,
      podCIDRs: s.podCIDRs,
      peers: s.peers.map((p) => ({
        ...p,
        keepaliveTime: p.keepaliveTime,
        maxPrefixes: p.maxPrefixes,
        description: p.description,
        nodeName: p.nodeName,
        password,
      })),
    },
  };
}
