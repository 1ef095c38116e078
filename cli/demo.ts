/**
 * `shadowscale demo`: the whole loop on one machine (demo/demo.ts): a real trace replayed in
 * compressed time with a surge, real Prometheus and Alertmanager, the adapter, the receiver, a local
 * HPA and pools of sample-service processes behind a mirroring proxy.
 */
import { Command } from 'commander';
import { DEFAULTS as DEFAULT_OPTIONS, DEFAULT_TRACE } from '../demo/defaults.ts';
import { UsageError } from './errors.ts';

function num(text: string, flag: string, ok: (x: number) => boolean, expected: string): number {
  const x = Number(text);
  if (!Number.isFinite(x) || !ok(x)) throw new UsageError(`${flag} must be ${expected}, got "${text}"`);
  return x;
}

export function demoCommand(): Command {
  return new Command('demo')
    .description('run shadowscale end to end on this machine: replay a real trace with a surge, watch it pre-scale, promote and revert')
    .option('--duration <seconds>', 'how long the demo runs (wall clock)', String(DEFAULT_OPTIONS.durationSeconds))
    .option('--speed <factor>', 'trace seconds per second (288: a day in 5 minutes)', String(DEFAULT_OPTIONS.speed))
    .option('--trace <csv>', 'timestamp,value CSV of load per minute (needs 5 days of history before the replay)', DEFAULT_TRACE)
    .option('--surge <factor>', 'load multiplier of the injected surge (1: none)', String(DEFAULT_OPTIONS.surge))
    .option('--peak-rps <n>', 'requests per second at the trace\'s busiest minute', String(DEFAULT_OPTIONS.peakRps))
    .option('--capacity-rps <n>', 'requests per second one replica serves', String(DEFAULT_OPTIONS.capacityRps))
    .option('--prometheus-port <port>', 'Prometheus port (0: any free one)', '0')
    .option('--alertmanager-port <port>', 'Alertmanager port (0: any free one)', '0')
    .option('--proxy-port <port>', 'port of the service (the mirroring proxy; 0: any free one)', '0')
    .option('--report <file>', 'HTML report of the simulator on the same trace', DEFAULT_OPTIONS.report)
    .option('--no-report', 'write no report')
    .option('--no-shadow', 'the same scenario with a reactive HPA only: no forecast-driven scaling, no shadows, no receiver actions')
    .option('--chaos', 'fail the parts one after another (a shadow replica, Prometheus, Alertmanager, the receiver mid-promotion, the adapter) and report how the loop recovered; exits 1 if it did not')
    .action(async (opts: Record<string, string | boolean>) => {
      const port = (flag: string, v: string) => num(v, flag, (x) => Number.isInteger(x) && x >= 0 && x < 65536, 'a port number');
      const { runDemo } = await import('../demo/demo.ts');
      const result = await runDemo({
        durationSeconds: num(String(opts.duration), '--duration', (x) => x >= 60, 'at least 60 seconds'),
        speed: num(String(opts.speed), '--speed', (x) => x >= 1, 'at least 1'),
        trace: String(opts.trace),
        surge: num(String(opts.surge), '--surge', (x) => x >= 1, 'at least 1'),
        peakRps: num(String(opts.peakRps), '--peak-rps', (x) => x > 0 && x <= 1000, 'in (0, 1000]'),
        capacityRps: num(String(opts.capacityRps), '--capacity-rps', (x) => x > 0, 'positive'),
        noShadow: opts.shadow === false,
        ports: { prometheus: port('--prometheus-port', String(opts.prometheusPort)), alertmanager: port('--alertmanager-port', String(opts.alertmanagerPort)), proxy: port('--proxy-port', String(opts.proxyPort)) },
        report: opts.report === false ? undefined : String(opts.report),
        chaos: opts.chaos === true,
      });
      if (result.summary.offered === 0) throw new Error('no request was offered');
      const c = result.chaos;
      if (c) {
        const failed = [
          ...c.faults.filter((f) => f.convergeSeconds === undefined).map((f) => `not converged: ${f.fault}`),
          ...c.ladderViolations,
          ...c.invariantViolations,
          ...c.duplicates,
        ];
        if (failed.length > 0) throw new Error(`the loop did not recover from every fault:\n  ${failed.join('\n  ')}`);
      }
    });
}
