// Which device a BGP next hop is on (src/fib/devices.ts): longest connected subnet, host
// routes skipped, refreshed from the OS at most every 5 s.
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConnectedDevices } from '../../src/fib/devices.js';
import { parseCidr } from '../../src/net/ip.js';

const c = (cidr: string, ifindex: number) => ({ cidr: parseCidr(cidr, true)!, ifindex });

describe('ConnectedDevices', () => {
  it('the longest connected subnet holding the address names the device; none gives 0', () => {
    const d = new ConnectedDevices({ read: () => [c('10.0.0.1/16', 2), c('10.0.1.1/24', 3), c('10.9.9.9/32', 4), c('fd00::1/64', 5)] });
    expect(d.deviceFor('10.0.1.7')).toBe(3);
    expect(d.deviceFor('10.0.2.7')).toBe(2);
    expect(d.deviceFor('10.9.9.9')).toBe(0); // a /32 of our own is no subnet a gateway is on
    expect(d.deviceFor('192.0.2.1')).toBe(0);
    expect(d.deviceFor('fd00::2')).toBe(5);
    expect(d.deviceFor('fd01::2')).toBe(0);
    expect(d.deviceFor('not an address')).toBe(0);
  });

  it('the interface list is read again after 5 s, not before; a failing read gives 0', () => {
    let now = 0;
    let reads = 0;
    let list = [c('10.0.0.1/24', 2)];
    const d = new ConnectedDevices({ now: () => now, read: () => (reads++, list) });
    expect(d.deviceFor('10.0.0.2')).toBe(2);
    list = [c('10.0.0.1/24', 7)];
    now = 4000;
    expect(d.deviceFor('10.0.0.2')).toBe(2);
    expect(reads).toBe(1);
    now = 5001;
    expect(d.deviceFor('10.0.0.2')).toBe(7);
    expect(reads).toBe(2);
    const broken = new ConnectedDevices({ read: () => { throw new Error('no /sys'); } });
    expect(broken.deviceFor('10.0.0.2')).toBe(0);
  });

  it('reads this host: a neighbour on the subnet of an interface maps to its ifindex, the loopback to none', () => {
    const d = new ConnectedDevices();
    const found = Object.entries(networkInterfaces()).flatMap(([name, as]) => (as ?? []).filter((a) => a.family === 'IPv4' && !a.internal && a.netmask !== '255.255.255.255').map((a) => ({ name, a })));
    expect(found.length, 'this test needs an interface with an IPv4 subnet').toBeGreaterThan(0);
    const { name, a } = found[0]!;
    const ifindex = Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8'));
    const neighbour = a.address.replace(/\d+$/, (x) => String(Number(x) === 1 ? 2 : 1));
    expect(d.deviceFor(neighbour)).toBe(ifindex);
    expect(d.deviceFor('127.0.0.2')).toBe(0);
  });
});
