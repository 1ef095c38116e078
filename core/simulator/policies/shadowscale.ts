/**
 * shadowscale: the planner's predicted load fed to the same HPA, plus the warm shadow pool the planner
 * sizes. As live, the plan is anchored: the load observed now, plus the rise the forecast (chosen by
 * backtest, refitted on a schedule) expects over the provisioning lag, plus two standard deviations of
 * the load's own change over a lag in the last hour. Its HPA targets `capacityPerReplica`, as the
 * adapter's documentation prescribes (the plan carries the headroom), where the reactive HPA keeps its
 * utilisation target; the metric is scaled so that the shared HPA model does exactly that.
 * Shadows are promoted when the primaries fall short of the load (a degraded primary), or when the
 * load leaves the forecast's 95 % band (an anomaly) and eats into the headroom, as the receiver does
 * on those alerts.
 */
import { plan } from '../../planner/planner.ts';
import { forecastWindow, VOLATILITY_WINDOW_SECONDS, volatilityOf } from '../../planner/serving.ts';
import { ScheduledForecaster } from '../forecaster.ts';
import type { PolicyFactory } from '../policy.ts';

export const shadowscalePolicy: PolicyFactory = (setup) => shadowscale(setup, false);

/** shadowscale whose scale-downs move pods into the shadow pool, kept there for an idle period. */
export const shadowscalePoolPolicy: PolicyFactory = (setup) => shadowscale(setup, true);

function shadowscale(setup: Parameters<PolicyFactory>[0], intoPool: boolean): ReturnType<PolicyFactory> {
  const forecaster = new ScheduledForecaster(setup.trace, { model: 'auto', lagSeconds: setup.provisioningLagSeconds, ...setup.forecast });
  const spec = {
    capacityPerReplica: setup.capacityPerReplica,
    primary: { minReplicas: setup.minReplicas, maxReplicas: setup.maxReplicas },
    shadow: setup.shadow,
  };
  // The observed load of the last hour and a lag (what the adapter's history holds for the volatility).
  const keep = Math.ceil((VOLATILITY_WINDOW_SECONDS + setup.provisioningLagSeconds) / setup.tickSeconds) + 2;
  const recent: { timestamps: number[]; values: number[] } = { timestamps: [], values: [] };
  let anomalies = 0;
  return {
    name: intoPool ? 'shadowscale+pool' : 'shadowscale',
    usesShadows: true,
    scaleDownIntoPool: intoPool,
    decide(ctx) {
      recent.timestamps.push(ctx.now);
      recent.values.push(ctx.observed);
      if (recent.values.length > keep) {
        recent.timestamps.shift();
        recent.values.shift();
      }
      const f = forecaster.at(ctx.now);
      // What the adapter serves (adapter/serving.ts view()): the same window, volatility and plan.
      const window = f ? forecastWindow(f, ctx.now, setup.provisioningLagSeconds) : undefined;
      const p = plan(spec, { forecast: window, trusted: forecaster.trusted, observedLoad: ctx.observed, lagVolatility: volatilityOf(recent, setup.tickSeconds, setup.provisioningLagSeconds) });
      const upperNow = window ? window.upper95[0] : Infinity;
      const anomaly = ctx.observed > upperNow;
      const degraded = ctx.load > ctx.capacity;
      if (anomaly) anomalies++;
      // An anomaly only promotes once it eats into the headroom the HPA keeps: the band is a forecast
      // of 5-minute means, and minute-level noise crosses it without needing capacity.
      const promote = degraded || (anomaly && ctx.load > setup.targetUtilization * ctx.capacity);
      return { metric: setup.targetUtilization * p.predictedLoad, shadowPool: p.shadowPoolSize, promote };
    },
    stats: () => ({ fits: forecaster.fits, anomalyTicks: anomalies, trusted: forecaster.trusted ? 1 : 0 }),
  };
}
