/**
 * shadowscale: the planner's predicted load (forecast chosen by backtest, upper bound once trusted,
 * never below the observed load) fed to the same HPA, plus the warm shadow pool the planner sizes.
 * Shadows are promoted when the primaries fall short of the load (a degraded primary), or when the
 * load leaves the forecast's 95 % band (an anomaly) and eats into the HPA's headroom, as the receiver
 * does on those alerts.
 */
import { plan } from '../../planner/planner.ts';
import { forecastWindow, ScheduledForecaster } from '../forecaster.ts';
import type { PolicyFactory } from '../policy.ts';

export const shadowscalePolicy: PolicyFactory = (setup) => {
  const forecaster = new ScheduledForecaster(setup.trace, { model: 'auto', lagSeconds: setup.provisioningLagSeconds, ...setup.forecast });
  // The planner sizes replicas at the HPA's target, so its replicas and the HPA's agree.
  const spec = {
    capacityPerReplica: setup.capacityPerReplica * setup.targetUtilization,
    primary: { minReplicas: setup.minReplicas, maxReplicas: setup.maxReplicas },
    shadow: setup.shadow,
  };
  let anomalies = 0;
  return {
    name: 'shadowscale',
    usesShadows: true,
    decide(ctx) {
      const f = forecaster.at(ctx.now);
      const window = f ? forecastWindow(f, ctx.now, ctx.now + setup.provisioningLagSeconds) : undefined;
      const p = plan(spec, { forecast: window, trusted: forecaster.trusted, observedLoad: ctx.observed });
      const upperNow = window ? window.upper95[0] : Infinity;
      const anomaly = ctx.observed > upperNow;
      const degraded = ctx.load > ctx.capacity;
      if (anomaly) anomalies++;
      // An anomaly only promotes once it eats into the headroom the HPA keeps: the band is a forecast
      // of 5-minute means, and minute-level noise crosses it without needing capacity.
      const promote = degraded || (anomaly && ctx.load > setup.targetUtilization * ctx.capacity);
      return { metric: p.predictedLoad, shadowPool: p.shadowPoolSize, promote };
    },
    stats: () => ({ fits: forecaster.fits, anomalyTicks: anomalies, trusted: forecaster.trusted ? 1 : 0 }),
  };
};
