/** Reactive HPA: the load over the last minute, as the scrapes deliver it, as the metric. */
import type { PolicyFactory } from '../policy.ts';

export const hpaPolicy: PolicyFactory = (setup) => ({
  name: 'hpa',
  usesShadows: false,
  decide: (ctx) => ({ metric: ctx.observedAt(ctx.now - setup.pipeline.scrapeDelaySeconds) }),
});
