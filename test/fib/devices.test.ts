// Which device a BGP next hop is on (src/fib/devices.ts): longest connected subnet, host
// routes skipped, read from the OS again only after a reported change (src/fib/interfaces.ts);
// and the node's own addresses for import sanity (src/fib/local-addresses.ts), the same way.
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConnectedDevices } from '../../src/fib/devices.js';
import { HostInterfaces, type InterfaceList } from '../../src/fib/interfaces.js';
import { hostLocalAddresses } from '../../src/fib/local-addresses.js';
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

  it('the interface list is read again after the host reports a change, never on a timer; a failing read gives 0', () => {
    let reads = 0;
    let list = [c('10.0.0.1/24', 2)];
    const host = new HostInterfaces(() => ({}));
    const d = new ConnectedDevices({ host, read: () => (reads++, list) });
    expect(d.deviceFor('10.0.0.2')).toBe(2);
    list = [c('10.0.0.1/24', 7)];
    expect(d.deviceFor('10.0.0.2')).toBe(2);
    expect(reads).toBe(1);
    host.changed();
    expect(d.deviceFor('10.0.0.2')).toBe(7);
    expect(d.deviceFor('10.0.0.3')).toBe(7);
    expect(reads).toBe(2);
    const broken = new ConnectedDevices({ host, read: () => { throw new Error('no /sys'); } });
    expect(broken.deviceFor('10.0.0.2')).toBe(0);
  });

  it('HostInterfaces reads once until a change; the local addresses follow a burst of changes with one read', async () => {
    let reads = 0;
    let list: InterfaceList = { eth0: [{ address: '10.0.0.1', netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:01', internal: false, cidr: '10.0.0.1/24' }] };
    const host = new HostInterfaces(() => (reads++, list));
    const local = hostLocalAddresses({ host });
    expect(reads).toBe(1);
    expect(host.list()).toBe(list);
    expect(reads).toBe(1);
    expect(local.isOwn('10.0.0.1')).toBe(true);
    list = { eth0: [{ address: '10.0.0.9', netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:01', internal: false, cidr: '10.0.0.9/24' }] };
    host.changed();
    host.changed();
    await new Promise((r) => setTimeout(r, 300));
    expect(reads).toBe(2);
    expect(local.isOwn('10.0.0.9')).toBe(true);
    expect(local.isOwn('10.0.0.1')).toBe(false);
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
