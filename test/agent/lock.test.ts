// The instance lock: a second agent for the same BGP port or kernel table/protocol in one
// network namespace is refused, and told who holds it.
import { afterEach, describe, expect, it } from 'vitest';
import { InstanceLock, InstanceLockedError, lockKeys } from '../../src/agent/lock.js';

const tag = `${process.pid}-${Date.now()}`;
const keys = (port: number) => lockKeys({ listenPort: port, kernel: { table: 254, protocol: 201 } }).map((k) => ({ ...k, name: `${k.name}/test-${tag}` }));
const held: InstanceLock[] = [];
afterEach(() => {
  for (const l of held.splice(0)) l.release();
});

describe('instance lock', () => {
  it('refuses a second holder and names the first', async () => {
    held.push(await InstanceLock.acquire(keys(179), () => ({ pid: 4242, startedAt: '2026-12-04T10:00:00Z', http: '127.0.0.1:9179' })));
    const second = InstanceLock.acquire(keys(179), () => ({ pid: 1, startedAt: 'x' }));
    await expect(second).rejects.toBeInstanceOf(InstanceLockedError);
    await expect(second).rejects.toThrow(/pid 4242, started 2026-12-04T10:00:00Z, HTTP 127\.0\.0\.1:9179\) holds BGP port 179/);
  });

  it('takes all of its locks or none: the kernel table alone conflicts too, and a failed acquire leaves the port free', async () => {
    const kernelOnly = keys(1179).slice(1);
    held.push(await InstanceLock.acquire(kernelOnly, () => ({ pid: 7, startedAt: 'then' })));
    await expect(InstanceLock.acquire(keys(1179), () => ({ pid: 8, startedAt: 'now' }))).rejects.toThrow(/pid 7.*holds kernel table 254 protocol 201/);
    // the port lock taken before the failure was given back
    held.push(await InstanceLock.acquire(keys(1179).slice(0, 1), () => ({ pid: 9, startedAt: 'later' })));
  });

  it('is free again once released', async () => {
    const l = await InstanceLock.acquire(keys(2179), () => ({ pid: 1, startedAt: 'a' }));
    l.release();
    held.push(await InstanceLock.acquire(keys(2179), () => ({ pid: 2, startedAt: 'b' })));
  });
});
