/**
 * The Predictive HPA's method: a Holt-Winters forecast of the load one provisioning lag ahead, fed to
 * the same HPA algorithm. Like the Predictive HPA's default `decisionType: maximum`, the larger of the
 * prediction and the current value is used. Until the first forecast exists, the observed load.
 */
import { ScheduledForecaster } from '../forecaster.ts';
import type { ForecastNeed, Policy, PolicyFactory, PolicySetup } from '../policy.ts';

/** Fitted on the trace up to each tick (the Predictive HPA's own metric store). */
function forecastNeed(setup: PolicySetup): ForecastNeed {
  return { spec: { model: 'holt-winters', lagSeconds: setup.provisioningLagSeconds, ...setup.forecast }, askDelaySeconds: 0 };
}

export const holtWintersPolicy: PolicyFactory = Object.assign((setup: PolicySetup): Policy => {
  const { spec: fspec, askDelaySeconds } = forecastNeed(setup);
  const forecaster = setup.forecasts ? setup.forecasts.reader(fspec) : new ScheduledForecaster(setup.trace, fspec);
  return {
    name: 'holt-winters',
    usesShadows: false,
    decide(ctx) {
      const observed = ctx.observedAt(ctx.now - setup.pipeline.scrapeDelaySeconds);
      const f = forecaster.at(ctx.now - askDelaySeconds);
      if (!f) return { metric: observed };
      const i = Math.min(f.point.length - 1, Math.max(0, Math.floor((ctx.now + setup.provisioningLagSeconds - f.start) / f.stepSeconds)));
      return { metric: Math.max(observed, f.point[i]) };
    },
    stats: () => ({ fits: forecaster.fits }),
  };
}, { forecastNeed });
