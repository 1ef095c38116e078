/** Runs one policy's simulation in a worker thread, so the forecasting policies use both cores. */
import { POLICIES, simulate, type PolicyResult, type SimulationSpec } from '../core/simulator/simulate.ts';
import type { Trace } from '../core/simulator/trace.ts';

export default function run(job: { trace: Trace; policy: string; spec: SimulationSpec }): PolicyResult {
  return simulate(job.trace, POLICIES[job.policy], job.spec);
}
