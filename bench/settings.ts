/** The simulation settings the scaling benchmarks share. */
import type { SimulationSettings } from '../simulation/run.ts';
import { parseDuration } from '../core/duration.ts';

/** `shadowscale simulate`'s defaults, at a lag and a capacity (`auto` or `auto:R`). */
export function settingsOf(lag: string, capacity: string): SimulationSettings {
  const lagSeconds = parseDuration(lag);
  if (lagSeconds === undefined) throw new Error(`--lags: ${lag} is not a duration`);
  const m = /^auto:(\d+)$/.exec(capacity);
  if (capacity !== 'auto' && !m) throw new Error(`--capacities: ${capacity} is not auto or auto:R`);
  return {
    capacity: m ? { replicasAtP95: Number(m[1]) } : 'auto',
    maxReplicas: 'auto',
    warmupSeconds: 'auto',
    provisioningLagSeconds: lagSeconds,
    targetUtilization: 0.8,
    shadowResourceFraction: 0.5,
  };
}
