/**
 * The demo, shortened to three minutes (a day of NASA traffic at 480×), end to end with every real
 * part: the forecast is served, a pre-scale comes before the surge's peak (with a share spilled to the
 * shadows while the serving set is short of the plan), the primary's degradation
 * leads to a promotion, everything is reverted at the end, the mirror never looks broken across the
 * swaps, and no process is left running.
 */
import { describe, expect, it } from 'vitest';

import { runDemo, type DemoResult } from '../demo/demo.ts';
import { alive } from './harness/wait.ts';

describe('shadowscale demo', () => {
  it('forecasts, pre-scales before the surge peaks, promotes when the primary degrades, reverts, and leaves nothing running', async () => {
    const lines: string[] = [];
    const result: DemoResult = await runDemo({ durationSeconds: 180, speed: 480, report: undefined, print: (l) => lines.push(l) });
    const timeline = lines.join('\n');

    // The forecast was served to the HPA throughout.
    expect(result.forecastsServed, timeline).toBeGreaterThan(100);
    // A pre-scale (HPA floor or shadow pool raised on an alert) before the surge's peak.
    const prescale = result.events.find((e) => e.kind === 'prescale');
    expect(prescale, timeline).toBeDefined();
    expect(prescale!.t, timeline).toBeLessThan(result.surgePeakAt);
    // A promotion once the primary was degraded.
    const degraded = result.alertsFirstFiring.ShadowscalePrimaryDegraded;
    expect(degraded, timeline).toBeDefined();
    const promotion = result.events.find((e) => e.kind === 'promote');
    expect(promotion, timeline).toBeDefined();
    expect(promotion!.t).toBeGreaterThanOrEqual(degraded - 2);
    // The forecast came from the recorded served load, and the KPIs followed the roles through the
    // promotion and the revert: the mirror never looked broken.
    expect(result.loadQuery).toBe('sum(shadowscale:load:rate1m{namespace="demo",workload="web"})');
    expect(result.mirrorBrokenAfterPromotion, timeline).toBe(0);
    // Reverted: traffic and the HPA back on the primary, the floor and the pool at their minimum.
    expect(result.events.some((e) => e.kind === 'revert' && e.t > promotion!.t), timeline).toBe(true);
    expect(result.final, timeline).toEqual({ active: 'web', autoscalerTarget: 'web', floor: 2, shadowReplicas: 1 });
    // Spill-over is told: in the summary always, in the live lines while a share is in force.
    expect(timeline).toMatch(/\n {2}spill-over: (\d+ changes of the share|none)/);
    if (result.summary.spill.seconds >= 10) expect(timeline).toMatch(/serving web \(\d+ % spilled to web-shadow\)/);
    // The load was mostly served (figures are printed, not asserted beyond sanity).
    expect(result.summary.offered).toBeGreaterThan(1000);
    expect(result.summary.unservedFraction, timeline).toBeLessThan(0.5);
    // Every process the demo started is gone.
    expect(result.pids.length).toBeGreaterThan(5);
    await new Promise((r) => setTimeout(r, 500));
    expect(result.pids.filter(alive)).toEqual([]);
  }, 360_000);
});
