/**
 * shadowscale as the product runs it: the adapter's plan fed to the HPA, plus the warm shadow pool the
 * plan sizes. The plan is the adapter's own (core/planner/serving.ts): the load the adapter observed,
 * plus the rise the forecast (chosen by backtest, refitted on a schedule) expects over the provisioning
 * lag, plus the headroom learned from the load's own rises over the last day. The adapter sees the load
 * as its pipeline delivers it (policy.ts PipelineSpec): the current load read every `observe` (an
 * instant query of the recorded rate), and the history on its step grid read at each refresh (with its
 * jitter), from which the headroom is learned. Its HPA targets `capacityPerReplica`, as the adapter's
 * documentation prescribes (the plan carries the headroom), where the reactive HPA keeps its
 * utilisation target; the metric is scaled so that the shared HPA model does exactly that.
 *
 * The shadows serve no live traffic in `shadowscale`: the receiver's promotion is a swap of roles that
 * first grows the standby to the serving set's size, so it adds no capacity within a provisioning lag,
 * and the simulator must not credit one. `shadowscale+spill` routes a share of live traffic to them, as
 * the receiver's spill-over does (below). (The receiver's pre-scale, which raises the HPA's floor on an
 * alert, is not modelled yet: the plan already drives the HPA.)
 */
import { plan } from '../../planner/planner.ts';
import { mulberry32 } from '../../random.ts';
import { forecastWindow, RISE_WINDOW_SECONDS, RollingRiseHeadroom, VOLATILITY_WINDOW_SECONDS, volatilityGrid, volatilityOf } from '../../planner/serving.ts';
import { decideSpill, DEFAULT_SPILL, mirrorWith, NO_SPILL, type SpillSpec, type SpillState } from '../../promotion/spill.ts';
import { ScheduledForecaster } from '../forecaster.ts';
import type { ForecastNeed, Policy, PolicyFactory, PolicySetup } from '../policy.ts';

/** The adapter's forecasts: `auto`, refitted on the history the scrapes had delivered by each tick. */
function forecastNeed(setup: PolicySetup): ForecastNeed {
  return {
    spec: { model: 'auto', lagSeconds: setup.provisioningLagSeconds, ...setup.forecast },
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

function shadowscale(setup: PolicySetup, mode: { intoPool?: boolean; spill?: boolean }): Policy {
  const intoPool = mode.intoPool ?? false;
  const { spec: fspec, askDelaySeconds } = forecastNeed(setup);
  const forecaster = setup.forecasts ? setup.forecasts.reader(fspec) : new ScheduledForecaster(setup.trace, fspec);
  const spec = {
    capacityPerReplica: setup.capacityPerReplica,
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
  return {
    name: intoPool ? 'shadowscale+pool' : mode.spill ? 'shadowscale+spill' : 'shadowscale',
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
      const f = forecaster.at(ctx.now - askDelaySeconds);
      // What the adapter serves (adapter/serving.ts view()): the same window, volatility and plan.
      const window = f ? forecastWindow(f, ctx.now, setup.provisioningLagSeconds) : undefined;
      const p = plan(spec, { forecast: window, trusted: forecaster.trusted, observedLoad: observed, lagVolatility: volatility, riseHeadroom: headroom });
      const decision = { metric: setup.targetUtilization * p.predictedLoad, shadowPool: p.shadowPoolSize };
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
    stats: () => ({ fits: forecaster.fits, refreshes, trusted: forecaster.trusted ? 1 : 0, ...(mode.spill ? { spillWrites } : {}) }),
  };
}
