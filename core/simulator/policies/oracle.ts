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
    // Pods asked for now are ready one lag from now: cover every load from now to then.
    const peak = peakLoad(setup.trace, ctx.now, ctx.now + setup.provisioningLagSeconds);
    const replicas = Math.ceil(peak / setup.capacityPerReplica - 1e-9);
    return { replicas: Math.min(setup.maxReplicas, Math.max(setup.minReplicas, replicas)) };
  },
});
