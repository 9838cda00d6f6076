// The FIB's queue of prefixes to look at (SlotQueue): order, a flush that stops part way, and
// the arrays it keeps when emptied, so that a lone change leaves no garbage.
import { describe, expect, it } from 'vitest';
import { SlotQueue } from '../../src/fib/table.js';

describe('SlotQueue', () => {
  it('gives back prefixes with their slots in the order pushed, from head on', () => {
    const q = new SlotQueue<number>();
    for (let k = 0; k < 5; k++) q.push(1000 + k, k * 10);
    expect([q.length, q.waiting]).toEqual([5, 5]);
    q.head = 2; // a flush that took two
    expect(q.waiting).toBe(3);
    expect([q.prefixes[q.head], q.slots[q.head]]).toEqual([1002, 20]);
    q.clear();
    expect([q.length, q.head, q.waiting]).toEqual([0, 0, 0]);
    q.push(7, 70);
    expect([q.prefixes[0], q.slots[0], q.length]).toEqual([7, 70, 1]);
  });

  it('keeps its arrays when emptied, unless they grew past 2,048 entries', () => {
    const q = new SlotQueue<number>();
    q.push(1, 1);
    const [prefixes, slots] = [q.prefixes, q.slots];
    q.clear();
    q.push(2, 2);
    expect(q.prefixes).toBe(prefixes);
    expect(q.slots).toBe(slots);
    for (let k = 0; k < 3000; k++) q.push(k, k);
    q.clear();
    expect(q.prefixes).not.toBe(prefixes);
    expect(q.prefixes.length).toBe(0);
    expect(q.slots.length).toBe(0);
  });
});
