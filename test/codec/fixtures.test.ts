// Captures of BIRD 2, FRR and GoBGP sessions (test/fixtures/bgp/, made by daemons.test.ts with
// ROUTELET_WRITE_FIXTURES=1; see the README there), decoded without running the daemons.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Capture } from './capture.js';
import { checkCapture } from './check-capture.js';
import { plan } from './daemon-configs.js';

const dir = new URL('../fixtures/bgp/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

describe('captured daemon sessions', () => {
  it('has a capture per daemon and family', () => {
    expect(files).toEqual(['bird-ipv4.json', 'bird-ipv6.json', 'frr-ipv4.json', 'frr-ipv6.json', 'gobgp-ipv4.json', 'gobgp-ipv6.json']);
  });

  for (const f of files) {
    it(`${f} decodes to what the daemon was configured to send`, () => {
      const c = JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as Capture;
      expect(c.version.length).toBeGreaterThan(0);
      // made with today's configuration
      expect(c.plan).toEqual(plan(c.daemon, ['bird', 'frr', 'gobgp'].indexOf(c.daemon) + 1));
      checkCapture(c);
    });
  }
});
