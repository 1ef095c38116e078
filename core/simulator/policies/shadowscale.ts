/**
 * shadowscale as the product runs it: the adapter's plan fed to the HPA, plus the warm shadow pool the
 * plan sizes. The plan is the adapter's own (core/planner/planner.ts, with the workload's `plan`): by
 * default the larger of the load the adapter observed and the peak the forecast (chosen by backtest,
 * refitted on a schedule) expects over the provisioning lag, at the workload's utilisation target;
 * with `anchored`, the load observed, plus the forecast's rise over the lag, plus the headroom learned
 * from the load's own rises over the last day. The adapter sees the load
 * as its pipeline delivers it (policy.ts PipelineSpec): the current load read every `observe` (an
 * instant query of the recorded rate), and the history on its step grid read at each refresh (with its
 * jitter), from which the headroom is learned. Its HPA targets `capacityPerReplica`, as the adapter's
 * documentation prescribes (the plan carries the headroom), where the reactive HPA keeps its
 * utilisation target; the metric is scaled so that the shared HPA model does exactly that.
 *
 * The shadows serve no live traffic in `shadowscale`: the receiver's promotion is a swap of roles that
 * first grows the standby to the serving set's size, so it adds no capacity within a provisioning lag,
 * and the simulator must not credit one. `shadowscale+spill` routes a share of live traffic to them, as
 * the receiver's spill-over does (below).
 *
 * The receiver's pre-scale (with `setup.prescale`): the adapter's exported series (the forecast's 95 %
 * band a lag ahead, the band the forecast made a lag ago gives for now, the observed load, the plan)
 * and the ready capacity reach Prometheus one scrape late; the prescale rules fire on them after their
 * `for:` at the evaluation interval, Alertmanager groups and sends them (alert-path.ts), and the
 * receiver's own decision (core/promotion) raises the HPA's floor to the plan it read when the episode
 * began, and the pool, until the cooldown after the alerts resolve.
 */
import { plan, type PlannerForecast } from '../../planner/planner.ts';
import { mulberry32 } from '../../random.ts';
import { bandAt, forecastWindow, laggedBand, RISE_WINDOW_SECONDS, RollingRiseHeadroom, VOLATILITY_WINDOW_SECONDS, volatilityGrid, volatilityOf } from '../../planner/serving.ts';
import { decideSpill, DEFAULT_SPILL, mirrorWith, NO_SPILL, type SpillSpec, type SpillState } from '../../promotion/spill.ts';
import type { PlanSnapshot } from '../../promotion/promotion.ts';
import { AlertPath, ReceiverPrescale, type RuleInputs } from '../alert-path.ts';
import { peakLoad, sampledAt } from '../trace.ts';
import { ScheduledForecaster, type StoredForecast } from '../forecaster.ts';
import type { ForecastNeed, Policy, PolicyFactory, PolicySetup, PrescaleSpec } from '../policy.ts';

/** The adapter's forecasts: `auto`, refitted on the history the scrapes had delivered by each tick. */
function forecastNeed(setup: PolicySetup, hindsight = false): ForecastNeed {
  return {
    spec: { model: 'auto', lagSeconds: setup.provisioningLagSeconds, ...setup.forecast, ...(hindsight ? { hindsight } : {}) },
    askDelaySeconds: setup.pipeline.scrapeDelaySeconds,
  };
}

export const shadowscalePolicy: PolicyFactory = Object.assign((setup: PolicySetup) => shadowscale(setup, {}), { forecastNeed });

/** shadowscale whose scale-downs move pods into the pool, and whose scale-ups take them back (the warm pool). */
export const shadowscalePoolPolicy: PolicyFactory = Object.assign((setup: PolicySetup) => shadowscale(setup, { intoPool: true }), { forecastNeed });

/**
 * shadowscale whose receiver also routes a share of live traffic to the warm shadows while the serving
 * set is short of what the plan expects (core/promotion/spill.ts, the receiver's own decision), on
 * what the receiver reads: the load and the plan as Prometheus has them (one scrape late), the ready
 * replicas of both sets now, and the shadows' KPIs one scrape late.
 */
export const shadowscaleSpillPolicy: PolicyFactory = Object.assign((setup: PolicySetup) => shadowscale(setup, { spill: true }), { forecastNeed });

/**
 * A bound, not the product: shadowscale's plan and pipeline fed a perfect forecast, the trace's true
 * load at each of its points over the next provisioning lag, where the product has its forecast. It
 * reads the future as the oracle does, and nothing else changes (the load observed as late, the same
 * plan, the same HPA), so its distance from `shadowscale` is what the forecast's errors cost, and its
 * own distance from the oracle what the plan and the pipeline cost. No pre-scale: the receiver's alerts
 * compare the load with the forecast's band, which a perfect forecast does not have.
 */
export const shadowscalePerfectForecastPolicy: PolicyFactory = (setup: PolicySetup) => shadowscale(setup, { perfectForecast: true });

/**
 * Bounds, not the product: shadowscale with spill-over whose forecast is better than the product's in
 * one stated way, to read how far a better forecast would take the plan (bench:perfect-forecast).
 * `hindsight-choice`: the adapter's candidates, the one kept at each refit chosen afterwards for the
 * smallest peak error until the next refit (forecaster.ts `hindsight`): the best any choice among them
 * could do for that error (not for the unserved load). `peak-error-0.75` / `-0.5`: the forecast's peak over the lag moved a quarter / half of the way
 * to the true peak at every tick, its error scaled by 0.75 / 0.5 (the product's own forecast otherwise).
 */
export const shadowscaleHindsightChoicePolicy: PolicyFactory = Object.assign((setup: PolicySetup) => shadowscale(setup, { spill: true, hindsight: true }), {
  forecastNeed: (setup: PolicySetup) => forecastNeed(setup, true),
});
export const shadowscalePeakError075Policy: PolicyFactory = Object.assign((setup: PolicySetup) => shadowscale(setup, { spill: true, peakErrorScale: 0.75 }), { forecastNeed });
export const shadowscalePeakError05Policy: PolicyFactory = Object.assign((setup: PolicySetup) => shadowscale(setup, { spill: true, peakErrorScale: 0.5 }), { forecastNeed });

/** The trace's true load at each of its points from `now` to `now + lagSeconds`, as a planner forecast. */
export function trueLoadAhead(trace: PolicySetup['trace'], now: number, lagSeconds: number): PlannerForecast | undefined {
  const first = Math.max(0, Math.floor((now - trace.start) / trace.stepSeconds));
  const last = Math.min(trace.values.length - 1, Math.floor((now + lagSeconds - trace.start) / trace.stepSeconds));
  if (last < first) return undefined;
  const point = Array.from(trace.values.subarray(first, last + 1));
  return { point, upper80: point, upper95: point };
}

/**
 * A forecast window whose peak is moved towards the true peak over the lag, its error times `scale`:
 * the level plan reads only the window's peak, so one point carries it. For the bounds above only.
 */
function closerToTruth(window: PlannerForecast, trace: PolicySetup['trace'], now: number, lagSeconds: number, scale: number): PlannerForecast {
  const truth = trueLoadAhead(trace, now, lagSeconds);
  const points = window.point.filter(Number.isFinite);
  if (!truth || points.length === 0) return window;
  const forecastPeak = Math.max(...points);
  const peak = forecastPeak + (1 - scale) * (Math.max(...truth.point) - forecastPeak);
  return { point: [peak], upper80: [peak], upper95: [peak] };
}

function shadowscale(setup: PolicySetup, mode: { intoPool?: boolean; spill?: boolean; perfectForecast?: boolean; hindsight?: boolean; peakErrorScale?: number }): Policy {
  const intoPool = mode.intoPool ?? false;
  const { spec: fspec, askDelaySeconds } = forecastNeed(setup, mode.hindsight);
  const forecaster = mode.perfectForecast ? undefined : setup.forecasts ? setup.forecasts.reader(fspec) : new ScheduledForecaster(setup.trace, fspec);
  const spec = {
    capacityPerReplica: setup.capacityPerReplica,
    method: setup.plan,
    targetUtilization: setup.planTargetUtilization,
    primary: { minReplicas: setup.minReplicas, maxReplicas: setup.maxReplicas },
    shadow: setup.shadow,
  };
  const { scrapeDelaySeconds: delay, adapter } = setup.pipeline;
  const step = adapter.stepSeconds;
  // How late the plan sees the load: every `observe`, or (with it off) every refresh.
  const seenEvery = adapter.observeSeconds ?? adapter.refreshSeconds;
  const reaction = setup.provisioningLagSeconds + seenEvery;
  // What the adapter's history holds of the last day and a reaction time (for the learned headroom,
  // and the last hour for the volatility), one point a step.
  const keep = Math.ceil((Math.max(RISE_WINDOW_SECONDS, VOLATILITY_WINDOW_SECONDS) + reaction) / step) + 2;
  // The adapter's riseHeadroomOf on that history, rolled forward with it (the same figure, without a
  // pass over the day at every refresh) ...
  const rises = new RollingRiseHeadroom(step, reaction);
  // ... and the points volatilityOf reads (its window and a lag), kept as the adapter has them.
  const held = volatilityGrid(step, setup.provisioningLagSeconds).points;
  const read: { timestamps: number[]; values: number[] } = { timestamps: [], values: [] };
  // Seeded, so that a run's refresh jitter is the same every time.
  const jitter = mulberry32(1);
  let nextRefresh = -Infinity;
  let nextObserve = -Infinity;
  let refreshes = 0;
  let observed: number | undefined;
  let volatility: number | undefined;
  let headroom: number | undefined;
  const spillSpec: SpillSpec = { ...DEFAULT_SPILL, capacityPerReplica: setup.capacityPerReplica, shadowResourceFraction: setup.shadow.resourceFraction, mirrorShare: setup.mirrorShare };
  let spill: SpillState = NO_SPILL;
  let spillWrites = 0;
  // The plan's load as exported, by tick, for the receiver to read one scrape late.
  const planned: Array<{ t: number; load: number }> = [];
  const prescale = setup.prescale && forecaster ? prescaleOf(setup, setup.prescale) : undefined;
  // For reading only, never for deciding: how far the forecast's peak over the lag, and the load the
  // plan observed, were from the true peak that followed, and how far the true peak rose above the
  // observed load and above the larger of the two (what the level plan reads), scored on real samples
  // as the unserved load is.
  const peakError = { ticks: 0, forecast: 0, observed: 0, observedShortfall: 0, planShortfall: 0 };
  return {
    name: intoPool
      ? 'shadowscale+pool'
      : mode.hindsight
        ? 'shadowscale+spill+hindsight-choice'
        : mode.peakErrorScale !== undefined
          ? `shadowscale+spill+peak-error-${mode.peakErrorScale}`
          : mode.spill
            ? 'shadowscale+spill'
            : mode.perfectForecast
              ? 'shadowscale+perfect-forecast'
              : 'shadowscale',
    usesShadows: true,
    scaleDownIntoPool: intoPool,
    productHpa: true,
    decide(ctx) {
      if (ctx.now >= nextRefresh) {
        // A refresh: the step points up to now, each the recorded rate as the scrapes had delivered it.
        const newest = Math.floor(ctx.now / step) * step;
        const last = read.timestamps[read.timestamps.length - 1] ?? -Infinity;
        for (let t = Math.max(last + step, newest - (keep - 1) * step); t <= newest; t += step) {
          const value = ctx.observedAt(t - delay);
          read.timestamps.push(t);
          read.values.push(value);
          rises.push(t, value);
        }
        if (read.values.length > held) {
          read.timestamps.splice(0, read.values.length - held);
          read.values.splice(0, read.values.length - held);
        }
        nextRefresh = ctx.now + adapter.refreshSeconds * (1 + adapter.jitter * jitter());
        refreshes++;
        volatility = volatilityOf(read, step, setup.provisioningLagSeconds);
        headroom = rises.headroom(setup.headroomQuantile);
        if (adapter.observeSeconds === undefined) observed = read.values[read.values.length - 1];
      }
      if (adapter.observeSeconds !== undefined && ctx.now >= nextObserve) {
        // The instant query of the recorded rate: the load as the scrapes have delivered it by now.
        observed = ctx.observedAt(ctx.now - delay);
        nextObserve = ctx.now + adapter.observeSeconds;
      }
      // Refitted on the history the scrapes had delivered by now.
      const f = forecaster?.at(ctx.now - askDelaySeconds);
      // What the adapter serves (adapter/serving.ts view()): the same window, volatility and plan.
      let window = forecaster ? (f ? forecastWindow(f, ctx.now, setup.provisioningLagSeconds) : undefined) : trueLoadAhead(setup.trace, ctx.now, setup.provisioningLagSeconds);
      if (mode.peakErrorScale !== undefined && window) window = closerToTruth(window, setup.trace, ctx.now, setup.provisioningLagSeconds, mode.peakErrorScale);
      if (forecaster && window && observed !== undefined && sampledAt(setup.trace, ctx.now)) {
        const points = window.point.filter(Number.isFinite);
        if (points.length > 0) {
          const peak = peakLoad(setup.trace, ctx.now, ctx.now + setup.provisioningLagSeconds);
          const forecastPeak = Math.max(...points);
          peakError.ticks++;
          peakError.forecast += Math.abs(forecastPeak - peak);
          peakError.observed += Math.abs(observed - peak);
          peakError.observedShortfall += Math.max(0, peak - observed);
          peakError.planShortfall += Math.max(0, peak - Math.max(observed, forecastPeak));
        }
      }
      const p = plan(spec, { forecast: window, trusted: forecaster?.trusted ?? true, observedLoad: observed, lagVolatility: volatility, riseHeadroom: headroom });
      let decision: { metric: number; shadowPool: number; minReplicas?: number } = { metric: setup.targetUtilization * p.predictedLoad, shadowPool: p.shadowPoolSize };
      if (prescale) {
        const d = prescale.tick(ctx.now, { forecast: f, observed, readyCapacity: ctx.capacity, plan: { desiredReplicas: p.desiredReplicas, shadowPoolSize: p.shadowPoolSize } });
        decision = { ...decision, minReplicas: d.floor, shadowPool: Math.max(p.shadowPoolSize, d.pool) };
      }
      if (!mode.spill) return decision;
      planned.push({ t: ctx.now, load: p.predictedLoad });
      while (planned.length > 1 && planned[1].t <= ctx.now - delay) planned.shift();
      const d = decideSpill(spillSpec, spill, {
        now: ctx.now,
        load: ctx.observedAt(ctx.now - delay),
        plannedLoad: planned[0].t <= ctx.now - delay ? planned[0].load : undefined,
        servingReady: Math.round(ctx.capacity / setup.capacityPerReplica),
        standbyReady: ctx.standbyReady,
        standbyHealthy: ctx.standbyHealthyAt(ctx.now - delay),
      });
      if (d.changed) {
        spill = { share: d.share, changedAt: ctx.now };
        spillWrites++;
      }
      return { ...decision, spillShare: spill.share, mirrorShare: mirrorWith(spillSpec, spill.share) };
    },
    stats: () => ({
      fits: forecaster?.fits ?? 0,
      refreshes,
      trusted: (forecaster?.trusted ?? true) ? 1 : 0,
      ...(peakError.ticks > 0
        ? {
            peakErrorTicks: peakError.ticks,
            forecastPeakMae: peakError.forecast / peakError.ticks,
            observedPeakMae: peakError.observed / peakError.ticks,
            observedPeakShortfall: peakError.observedShortfall / peakError.ticks,
            planPeakShortfall: peakError.planShortfall / peakError.ticks,
          }
        : {}),
      ...(mode.spill ? { spillWrites } : {}),
      ...(prescale ? prescale.stats() : {}),
    }),
  };
}

/** What the adapter exports at a tick, as Prometheus will have it one scrape later. */
interface Exported {
  t: number;
  inputs: RuleInputs;
  plan: PlanSnapshot;
}

/**
 * The receiver's pre-scale on what the adapter exports: the prescale rules evaluated on the series
 * one scrape late, Alertmanager's notifications, and the receiver's floor and pool.
 */
function prescaleOf(setup: PolicySetup, spec: PrescaleSpec) {
  const delay = setup.pipeline.scrapeDelaySeconds;
  const lag = setup.provisioningLagSeconds;
  const path = new AlertPath(spec.alertPath, spec.onEvaluation);
  const receiver = new ReceiverPrescale({
    primary: { name: 'primary', minReplicas: setup.minReplicas, maxReplicas: setup.maxReplicas },
    shadow: { name: 'shadow', minReplicas: setup.shadow.minReplicas, maxReplicas: setup.shadow.maxReplicas, mirrorPercent: Math.round(setup.mirrorShare * 100), resourceFraction: setup.shadow.resourceFraction },
    cooldownMs: spec.cooldownSeconds * 1000,
    prescaleMaxMs: spec.prescaleMaxSeconds * 1000,
    // Role changes are not simulated; the pre-scale does not read these.
    minHoldMs: 0,
    maxRoleChangesPerHour: 60,
    drainMs: 0,
  });
  // The exported series by tick, kept as long as an evaluation may still read them.
  const exported: Exported[] = [];
  // The forecasts the adapter has made, newest first, with when it first served each (its fit time).
  const made: Array<{ forecast: StoredForecast; fittedAt: number }> = [];
  let notifications = 0;
  const at = (t: number): Exported | undefined => {
    let found: Exported | undefined;
    for (const e of exported) {
      if (e.t > t) break;
      found = e;
    }
    return found;
  };
  return {
    tick(now: number, x: { forecast: StoredForecast | undefined; observed: number | undefined; readyCapacity: number; plan: PlanSnapshot }): { floor: number; pool: number } {
      if (x.forecast && made[0]?.forecast !== x.forecast) made.unshift({ forecast: x.forecast, fittedAt: now * 1000 });
      // Forecasts older than the newest made a lag ago are never read again.
      const lagged = made.findIndex((m) => now * 1000 - m.fittedAt >= lag * 1000);
      if (lagged >= 0) made.length = lagged + 1;
      exported.push({
        t: now,
        inputs: {
          forecastUpper95: x.forecast ? bandAt(x.forecast, now + lag)?.upper95 : undefined,
          laggedUpper95: laggedBand(made, now * 1000, lag)?.upper95,
          observed: x.observed,
          readyCapacity: x.readyCapacity,
          minRequestRate: spec.minRequestRate,
        },
        plan: x.plan,
      });
      const before = spec.alertPath.evaluationIntervalSeconds + delay;
      while (exported.length > 1 && exported[1].t <= now - before) exported.shift();
      path.evaluate(now, (te) => at(te - delay)?.inputs ?? { readyCapacity: x.readyCapacity, minRequestRate: spec.minRequestRate });
      for (const n of path.notifications(now)) {
        notifications++;
        receiver.receive(n, n.at * 1000);
      }
      return receiver.desired(now * 1000, at(now - delay)?.plan);
    },
    stats: () => ({ prescaleAlertsFired: path.fired, prescaleNotifications: notifications, prescaleFloorWrites: receiver.floorWrites }),
  };
}
