// Decode a capture of a real daemon's session and check every field against what the daemon
// was configured to send (daemon-configs.ts). Shared by the live test and the fixture test.
import { expect } from 'vitest';
import {
  AttributeInterner,
  decodeMessage,
  Framer,
  type Capability,
  type Message,
  type OpenMessage,
  type UpdateMessage,
} from '../../src/bgp/codec/index.js';
import { formatPrefix } from '../../src/net/prefix.js';
import type { Capture } from './capture.js';
import { parseCommunity } from '../../src/bgp/codec/index.js';

const find = <K extends Capability['kind']>(caps: readonly Capability[], kind: K) => caps.find((c) => c.kind === kind) as Extract<Capability, { kind: K }> | undefined;

/** What each daemon advertises on top of the common capabilities, as configured. */
function extras(c: Capture, caps: readonly Capability[]): void {
  const afi = c.family === 4 ? 1 : 2;
  const gr = find(caps, 'graceful-restart')!;
  const addPath = find(caps, 'add-path');
  switch (c.daemon) {
    case 'bird':
      expect(find(caps, 'extended-message')).toBeDefined();
      expect(find(caps, 'enhanced-route-refresh')).toBeDefined();
      expect(gr.notification).toBe(false);
      if (c.family === 4) {
        expect(addPath?.families).toEqual([{ afi: 1, safi: 1, send: true, receive: true }]);
        expect(find(caps, 'extended-next-hop')?.families).toEqual([{ afi: 1, safi: 1, nextHopAfi: 2 }]);
      } else expect(addPath).toBeUndefined();
      break;
    case 'frr':
      expect(find(caps, 'route-refresh-cisco')).toBeDefined();
      expect(find(caps, 'enhanced-route-refresh')).toBeDefined();
      expect(find(caps, 'extended-message')).toBeDefined();
      expect(find(caps, 'fqdn')).toEqual({ kind: 'fqdn', hostname: c.plan.hostname, domain: '' });
      // a freshly started bgpd says it restarted, and supports GR for NOTIFICATIONs (RFC 8538 N bit)
      expect([gr.restarting, gr.notification]).toEqual([true, true]);
      expect(find(caps, 'long-lived-graceful-restart')!.families[0]!.forwarding).toBe(true);
      if (c.family === 4) {
        expect(find(caps, 'role')).toEqual({ kind: 'role', role: 3 });
        expect(addPath?.families).toEqual([{ afi: 1, safi: 1, send: true, receive: true }]);
      } else expect(addPath?.families).toEqual([{ afi: 2, safi: 1, send: false, receive: true }]);
      break;
    case 'gobgp':
      expect(find(caps, 'fqdn')?.hostname.length).toBeGreaterThan(0);
      expect(addPath?.families).toEqual([{ afi, safi: 1, send: true, receive: true }]);
      if (c.family === 4) expect(find(caps, 'extended-next-hop')?.families).toEqual([{ afi: 1, safi: 1, nextHopAfi: 2 }]);
      break;
  }
}

export function checkCapture(c: Capture): void {
  const p = c.plan;
  const afi = c.family === 4 ? 1 : 2;
  const framer = new Framer({ extendedMessage: c.options.extendedMessage });
  const interner = new AttributeInterner();
  const msgs: Message[] = [];
  for (const f of framer.push(Buffer.from(c.rx, 'hex'))) {
    const m = decodeMessage(f, c.options, interner);
    if (m instanceof Error) throw m;
    msgs.push(m);
  }
  expect(framer.buffered).toBe(0);

  // OPEN: AS, identifier, hold time, capabilities as configured
  const open = msgs[0] as OpenMessage;
  expect(open.type).toBe('open');
  expect({ version: open.version, asn: open.asn, myAs: open.myAs, routerId: open.routerId, holdTime: open.holdTime }).toEqual({
    version: 4,
    asn: p.asn,
    myAs: 23456, // AS_TRANS: the AS needs 4 octets
    routerId: p.routerId,
    holdTime: 90,
  });
  const caps = open.capabilities;
  expect(caps.filter((x) => x.kind === 'multiprotocol')).toEqual([{ kind: 'multiprotocol', afi, safi: 1 }]);
  expect(find(caps, 'as4')).toEqual({ kind: 'as4', asn: p.asn });
  expect(find(caps, 'route-refresh')).toBeDefined();
  const gr = find(caps, 'graceful-restart')!;
  expect(gr.restartTime).toBe(120);
  expect(gr.families.map((f) => [f.afi, f.safi])).toEqual([[afi, 1]]);
  const llgr = find(caps, 'long-lived-graceful-restart')!;
  expect(llgr.families.map((f) => [f.afi, f.safi, f.staleTime])).toEqual([[afi, 1, 3600]]);
  expect(caps.filter((x) => x.kind === 'unknown')).toEqual([]);
  extras(c, caps);
  expect(msgs[1]).toEqual({ type: 'keepalive' });

  // UPDATEs up to End-of-RIB: the configured prefixes with the configured attributes
  const updates = msgs.filter((m): m is UpdateMessage => m.type === 'update');
  expect(updates.at(-1)!.endOfRib).toBe(c.family);
  const announced: string[] = [];
  for (const u of updates) {
    expect(u.errors).toEqual([]);
    expect(u.withdrawn4.length + u.withdrawn6.length).toBe(0);
    for (const r of u.reach) {
      expect(r.family).toBe(c.family);
      announced.push(...Array.from(r.prefixes as ArrayLike<number | string>, (x) => formatPrefix(x)));
      const addPath = c.family === 4 ? c.options.addPath.ipv4.receive : c.options.addPath.ipv6.receive;
      expect(r.pathIds !== null).toBe(addPath);
      if (r.pathIds) expect(Array.from(r.pathIds).every((id) => id > 0)).toBe(true);
      const a = r.attrs;
      expect({
        origin: a.origin,
        asPath: a.asPath,
        med: a.med,
        localPref: a.localPref,
        communities: a.communities,
        largeCommunities: a.largeCommunities,
        nextHop: a.nextHop,
        linkLocalNextHop: a.linkLocalNextHop,
      }).toEqual({
        origin: 0,
        asPath: [{ type: 2, asns: [p.asn] }],
        med: p.med,
        localPref: undefined, // eBGP
        communities: p.communities.map(parseCommunity),
        largeCommunities: p.large,
        nextHop: c.family === 4 ? p.v4 : p.v6,
        // bgpd alone and GoBGP send the global address only unless told otherwise; FRR is configured
        // with the link-local address, BIRD finds it itself (RFC 2545 32-octet next hop)
        linkLocalNextHop: c.family === 6 && c.daemon !== 'gobgp' ? c.linkLocal : undefined,
      });
    }
  }
  expect(announced.sort()).toEqual([...(c.family === 4 ? p.prefixes4 : p.prefixes6)].sort());
}
