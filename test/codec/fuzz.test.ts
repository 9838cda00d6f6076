// Wire fuzzing in the tests (issue 12): a seeded campaign of generated and mutated messages
// through the path the agent runs (bench/fuzz.ts: socket stand-in ─► Framer ─► decodeMessage
// with the negotiated options ─► FSM ─► Session ─► RIB import), then the saved corpus
// replayed: one message per outcome and session kind, and the findings of past campaigns
// (test/fixtures/bgp/fuzz/corpus.json). `npm run bench:fuzz` runs the campaign at scale.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness, runCampaign } from '../../bench/fuzz.js';

interface CorpusEntry {
  peer: string;
  hex: string;
  outcome: string;
  note?: string;
}

const corpus = JSON.parse(readFileSync(new URL('../fixtures/bgp/fuzz/corpus.json', import.meta.url), 'utf8')) as CorpusEntry[];

let limit = Error.stackTraceLimit;
beforeAll(() => {
  // every malformation is a BgpError: without stacks the campaign runs about twice as fast
  limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
});
afterAll(() => {
  Error.stackTraceLimit = limit;
});

describe('wire fuzzing through the session path', () => {
  // 10,000 messages: about 2 s on an idle core (the bound is generous for a loaded machine)
  it('a seeded campaign of 10,000 messages: no bug, no outcome the RFCs forbid, every kind of outcome reached', async () => {
    const r = await runCampaign(10_000, 20261204, { slowMs: 5000 });
    expect(r.findings).toEqual([]);
    expect(r.messages).toBeGreaterThanOrEqual(10_000);
    const o = r.outcomes;
    // the RFC 7606 outcomes of UPDATEs that reached the RIB
    for (const k of ['ok', 'attribute-discard', 'treat-as-withdraw', 'end-of-rib']) expect(o[k], k).toBeGreaterThan(0);
    // resets: header errors, UPDATE Message Errors, OPEN errors on new connections, FSM errors, ROUTE-REFRESH
    const resets = (code: number) => Object.entries(o).filter(([k]) => k.startsWith(`reset ${code}/`)).reduce((a, [, v]) => a + v, 0);
    for (const code of [1, 2, 3, 5, 7]) expect(resets(code), `NOTIFICATION code ${code}`).toBeGreaterThan(0);
    // the peer's NOTIFICATIONs close the session without an answer
    expect(o.closed).toBeGreaterThan(0);
    // never our bug's Cease
    expect(o['reset 6/0']).toBeUndefined();
    expect(o.bug).toBeUndefined();
  }, 300_000);

  it(`replays the corpus (${corpus.length} messages): each with its outcome, the crash of issue 12 included`, async () => {
    const h = new Harness({ slowMs: 5000 });
    const got = corpus.map((e, i) => h.replay(e.peer, e.hex, i));
    expect(h.findings).toEqual([]);
    expect(got).toEqual(corpus.map((e) => e.outcome));
    const issue12 = corpus.findIndex((e) => e.note?.startsWith('issue 12'));
    expect(got[issue12]).toBe('ok');
    await h.close();
  });
});
