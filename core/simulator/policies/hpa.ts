/** Reactive HPA: the observed load over the last minute, as the metric. */
import type { PolicyFactory } from '../policy.ts';

export const hpaPolicy: PolicyFactory = () => ({
  name: 'hpa',
  usesShadows: false,
  decide: (ctx) => ({ metric: ctx.observed }),
});
