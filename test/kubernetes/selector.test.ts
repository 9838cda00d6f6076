import { describe, expect, it } from 'vitest';
import { matches, parseSelector } from '../../src/config/selector.js';

describe('label selectors', () => {
  const labels = { 'routelet.io/rr': 'true', 'topology.kubernetes.io/zone': 'a', rack: 'r1' };
  const cases: [string, boolean][] = [
    ['', true],
    ['routelet.io/rr=true', true],
    ['routelet.io/rr==true', true],
    ['routelet.io/rr!=true', false],
    ['routelet.io/rr', true],
    ['!routelet.io/rr', false],
    ['!missing', true],
    ['missing!=x', true],
    ['rack in (r1, r2)', true],
    ['rack notin (r1,r2)', false],
    ['rack in (r2),routelet.io/rr', false],
    ['topology.kubernetes.io/zone=a, rack=r1', true],
  ];
  for (const [text, want] of cases)
    it(`${JSON.stringify(text)} → ${want}`, () => {
      const s = parseSelector(text);
      expect(s).toBeDefined();
      expect(matches(s!, labels)).toBe(want);
    });
  for (const bad of ['a=b=c', 'in (x)', 'a in x', '=x', 'a b'])
    it(`${JSON.stringify(bad)} is no selector`, () => expect(parseSelector(bad)).toBeUndefined());
});
