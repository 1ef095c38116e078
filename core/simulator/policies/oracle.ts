/**
 * The physical limit: knows the future load and asks for exactly the replicas the next provisioning
 * lag will need, so each is ready when needed and gone when not. A pod needed at time s must exist
 * from s − lag on, so no policy can use fewer replica-seconds without leaving load unserved.
 */
import { peakLoad } from '../trace.ts';
import type { PolicyFactory } from '../policy.ts';

export const oraclePolicy: PolicyFactory = (setup) => ({
  name: 'oracle',
  usesShadows: false,
  decide(ctx) {
    // The next tick's pods must be ready by then: cover every load until one lag and one tick ahead.
    const peak = peakLoad(setup.trace, ctx.now, ctx.now + setup.provisioningLagSeconds + setup.tickSeconds - 1e-6);
    const replicas = Math.ceil(peak / setup.capacityPerReplica - 1e-9);
    return { replicas: Math.min(setup.maxReplicas, Math.max(setup.minReplicas, replicas)) };
  },
});
