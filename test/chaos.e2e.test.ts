/**
 * The chaos run of the whole loop (`shadowscale demo --chaos`, shortened to two minutes): a shadow
 * replica killed, Prometheus hung then killed and restarted on its data, Alertmanager killed and
 * restarted empty, the receiver killed in the middle of a promotion and restarted, the adapter
 * restarted. After each fault the loop converges; throughout, the adapter's ladder never climbs while
 * Prometheus is away and never serves below the minimum, the serving set keeps ready replicas, no set
 * falls below its minimum, and no action is taken twice. The figures are printed, for the record.
 */
import { describe, expect, it } from 'vitest';

import { Chaos } from '../demo/chaos.ts';
import { runDemo } from '../demo/demo.ts';
import { alive } from './harness/wait.ts';

describe('shadowscale demo --chaos', () => {
  it('converges after every fault, with the ladder monotonic, the sets above their minimum and no action twice', async () => {
    const lines: string[] = [];
    const result = await runDemo({ durationSeconds: 120, speed: 480, chaos: true, report: undefined, print: (l) => lines.push(l) });
    const timeline = lines.join('\n');
    const c = result.chaos!;
    process.stdout.write(`${Chaos.lines(c).join('\n')}\n`);

    expect(c.faults.map((f) => f.fault.split(' ')[1]), timeline).toEqual(['shadow', 'hung', 'killed', 'receiver', 'adapter']);
    for (const f of c.faults) expect(f.convergeSeconds, `${f.fault}\n${timeline}`).toBeDefined();
    // The receiver died between the promotion's first step and its last, and the next one finished it.
    expect(c.receiverKilledMidPromotion, timeline).toBe(true);
    expect(c.faults[3].note, timeline).toMatch(/then serving web-(shadow)?/);
    // Prometheus away: the adapter was asked throughout, its rungs only went down, never below the minimum.
    expect(c.rungsDuringOutage.length, timeline).toBeGreaterThan(0);
    expect(c.ladderViolations, timeline).toEqual([]);
    expect(c.invariantViolations, timeline).toEqual([]);
    // One action per intent, across the receiver's restart and Alertmanager's (which re-sends everything).
    expect(c.actions, timeline).toBeGreaterThan(2);
    expect(c.duplicates, timeline).toEqual([]);
    // The loop ends with a serving set, the traffic was served for the most part, nothing is left running.
    expect(['web', 'web-shadow']).toContain(result.final.active);
    expect(result.summary.offered).toBeGreaterThan(500);
    expect(result.summary.unservedFraction, timeline).toBeLessThan(0.5);
    await new Promise((r) => setTimeout(r, 500));
    expect(result.pids.filter(alive)).toEqual([]);
  }, 360_000);
});
