/**
 * `npm run bench:scaling`: every suitable real trace of ../shared/data through the simulator at
 * provisioning lags of 60 s, 120 s and 300 s; a table per trace, the medians, and
 * bench/results/scaling.json and scaling.html. The traces run in two worker threads (one per core),
 * each trace with all its settings at once so that its forecasts are fitted once for every lag and
 * capacity (the fits do not depend on them), exactly as `shadowscale simulate` would run each setting.
 * A benchmark: it reports, it does not assert.
 *
 * Options: --only SUBSTRING, --lags 60s,120s,300s, --capacities auto,auto:5 (capacity per replica: about
 * 20, or R, replicas at the trace's p95 load; each a setting of its own, to show how sensitive the
 * figures are to it)
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';
import { Piscina } from 'piscina';
import { LOAD_SERIES, ZERO_IS_MISSING } from './traces.ts';
import { vegaScripts } from '../simulation/report.ts';
import type { SimulationReport } from '../simulation/report.ts';
import { settingsOf } from './settings.ts';
import { arg } from './args.ts';
import { median, ratioToHpa } from './ratio.ts';
import { loadTrace } from '../cli/simulate.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DATA = join(ROOT, '..', 'shared', 'data');


/**
 * Every policy, shadowscale with the warm pool (scale-downs detach pods, scale-ups take them back) and
 * with spill-over (a share of live traffic to the shadows while the serving set is short of the plan).
 */
const POLICY_NAMES = ['hpa', 'holt-winters', 'shadowscale', 'shadowscale+pool', 'shadowscale+spill', 'oracle'];

interface Job {
  trace: string;
  lag: string;
  capacity: string;
}

/** The name of a lag and capacity in the tables and the JSON: the lag alone at the default capacity. */
const settingOf = (j: { lag: string; capacity: string }) => (j.capacity === 'auto' ? j.lag : `${j.lag} capacity ${j.capacity}`);
interface Outcome extends Job {
  report?: SimulationReport;
  error?: string;
  /** Time the trace's task took in its worker, all its settings together. */
  seconds: number;
}

/** A trace's span in seconds: how long its simulation runs. */
function traceLength(file: string): number {
  const t = loadTrace(join(DATA, file), { zeroIsMissing: ZERO_IS_MISSING.has(file) });
  return t.values.length * t.stepSeconds;
}

async function main(): Promise<void> {
  if (!existsSync(DATA)) throw new Error(`no data at ${DATA}`);
  const only = arg('--only', '');
  const lags = arg('--lags', '60s,120s,300s').split(',');
  const capacities = arg('--capacities', 'auto').split(',');
  const settings = lags.flatMap((lag) => capacities.map((capacity) => ({ lag, capacity })));
  const jobs: Job[] = LOAD_SERIES.filter((t) => t.includes(only)).flatMap((trace) => settings.map((s) => ({ trace, ...s })));
  const specs = settings.map((s) => settingsOf(s.lag, s.capacity));
  const worker = new URL(`../simulation/worker.ts`, import.meta.url);
  const pool = new Piscina({ filename: worker.href, name: 'trace', maxThreads: 2, minThreads: 2, execArgv: process.execArgv });
  const outcomes: Outcome[] = [];
  let done = 0;
  const started = performance.now();
  // The longest traces first, so that the last ones to finish are short.
  const traces = LOAD_SERIES.filter((t) => t.includes(only)).sort((a, b) => traceLength(b) - traceLength(a));
  await Promise.all(
    traces.map(async (trace) => {
      let reports: SimulationReport[] | undefined;
      let error: string | undefined;
      let seconds = NaN;
      try {
        ({ reports, seconds } = await pool.run({ file: join(DATA, trace), name: trace, zeroIsMissing: ZERO_IS_MISSING.has(trace), settings: specs, policies: POLICY_NAMES }));
      } catch (e) {
        error = (e as Error).message;
      }
      settings.forEach((setting, i) => {
        const outcome: Outcome = { trace, ...setting, seconds, ...(reports ? { report: reports[i] } : { error }) };
        outcomes.push(outcome);
        done++;
        const sh = outcome.report?.policies.find((p) => p.policy === 'shadowscale');
        const hpa = outcome.report?.policies.find((p) => p.policy === 'hpa');
        process.stderr.write(
          `[${done}/${jobs.length}] ${trace} ${settingOf(setting)}: ${outcome.error ? `error: ${outcome.error}` : `hpa ${(hpa!.unservedFraction * 100).toFixed(3)} %, shadowscale ${(sh!.unservedFraction * 100).toFixed(3)} % (hpa at equal cost ${(sh!.hpaUnservedAtEqualCost * 100).toFixed(3)} %)`} (the trace's ${settings.length} settings in ${seconds.toFixed(0)} s)\n`,
        );
      });
    }),
  );
  await pool.destroy();
  const wall = (performance.now() - started) / 1000;
  console.log(`${traces.length} traces × ${settings.length} settings × ${POLICY_NAMES.length} policies in ${wall.toFixed(0)} s on 2 worker threads`);
  const order = (o: Job) => jobs.findIndex((j) => j.trace === o.trace && j.lag === o.lag && j.capacity === o.capacity);
  outcomes.sort((a, b) => order(a) - order(b));

  const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(3)} %` : '-');
  const summary: Record<string, Record<string, number>> = {};
  for (const setting of settings.map(settingOf)) {
    const lag = setting;
    const at = outcomes.filter((o) => settingOf(o) === setting && o.report);
    const table = new Table({ style: { head: [], border: [] }, head: ['trace', 'policy', 'unserved', 'hpa at equal cost', '÷ hpa at equal cost', 'replica-s ÷ hpa', 'shadow share', 'violation min', 'scored'] });
    for (const o of at) {
      const hpa = o.report!.policies.find((p) => p.policy === 'hpa')!;
      for (const p of o.report!.policies) {
        // `*`: no hpa target spends this much (or this little); the figure is the nearest end's.
        const mark = p.equalCostExtrapolated ? ' *' : '';
        const r = ratioToHpa(p.unservedFraction, p.hpaUnservedAtEqualCost);
        const ratio = Number.isNaN(r) ? '-' : r === Infinity ? '∞' : r.toFixed(3);
        const scored = `${((100 * p.scoredTicks) / (p.scoredTicks + p.skippedTicks)).toFixed(0)} %`;
        table.push([o.trace.split('/').pop()!.replace('.csv', ''), p.policy, pct(p.unservedFraction), `${pct(p.hpaUnservedAtEqualCost)}${mark}`, `${ratio}${mark}`, (p.replicaSeconds / hpa.replicaSeconds).toFixed(3), (p.shadowReplicaSeconds / p.replicaSeconds).toFixed(3), (p.violationSeconds / 60).toFixed(0), scored]);
      }
    }
    const pick = (policy: string, field: 'unservedFraction' | 'hpaUnservedAtEqualCost' | 'replicaSeconds') =>
      median(at.map((o) => {
        const p = o.report!.policies.find((x) => x.policy === policy)!;
        return field === 'replicaSeconds' ? p.replicaSeconds / o.report!.policies.find((x) => x.policy === 'hpa')!.replicaSeconds : p[field];
      }));
    summary[lag] = {};
    for (const policy of POLICY_NAMES) {
      summary[lag][`${policy}.unservedFraction`] = pick(policy, 'unservedFraction');
      summary[lag][`${policy}.hpaUnservedAtEqualCost`] = pick(policy, 'hpaUnservedAtEqualCost');
      summary[lag][`${policy}.replicaSecondsVsHpa`] = pick(policy, 'replicaSeconds');
      table.push(['MEDIAN', policy, pct(summary[lag][`${policy}.unservedFraction`]), pct(summary[lag][`${policy}.hpaUnservedAtEqualCost`]), summary[lag][`${policy}.replicaSecondsVsHpa`].toFixed(3), '', '']);
    }
    console.log(`\nprovisioning lag ${lag} (${at.length} traces)`);
    console.log(table.toString());
    // Spill-over against shadowscale alone, trace by trace: what routing a share to the shadows changes.
    const spill = at.map((o) => {
      const find = (policy: string) => o.report!.policies.find((x) => x.policy === policy)!;
      const base = find('shadowscale').unservedFraction;
      return { trace: o.trace.split('/').pop()!.replace('.csv', ''), ratio: base > 0 ? find('shadowscale+spill').unservedFraction / base : NaN };
    });
    summary[lag]['shadowscale+spill.unservedVsShadowscale'] = median(spill.map((r) => r.ratio));
    summary[lag]['shadowscale+spill.tracesHelped'] = spill.filter((r) => r.ratio < 0.999).length;
    summary[lag]['shadowscale+spill.tracesHurtOver10pct'] = spill.filter((r) => r.ratio > 1.1).length;
    console.log(
      `shadowscale+spill ÷ shadowscale (unserved, same replica-seconds): median ${summary[lag]['shadowscale+spill.unservedVsShadowscale'].toFixed(3)}; helps ${spill.filter((r) => r.ratio < 0.999).map((r) => `${r.trace} ${r.ratio.toFixed(2)}`).join(', ') || 'none'}; hurts ${spill.filter((r) => r.ratio > 1.001).map((r) => `${r.trace} ${r.ratio.toFixed(2)}`).join(', ') || 'none'}`,
    );
    // For reading: the forecast's error on the peak of the next lag against the load the plan observed
    // (the same forecasts and observed load in every shadowscale policy, so read on shadowscale's).
    const peak = at.flatMap((o) => {
      const e = o.report!.policies.find((x) => x.policy === 'shadowscale')?.peakError;
      return e && e.observedMae > 0 ? [{ trace: o.trace.split('/').pop()!.replace('.csv', ''), ratio: e.forecastMae / e.observedMae, foreseen: e.observedShortfall > 0 ? 1 - e.planShortfall / e.observedShortfall : undefined }] : [];
    });
    const foreseen = peak.flatMap((r) => (r.foreseen === undefined ? [] : [{ trace: r.trace, share: r.foreseen }]));
    if (peak.length > 0) {
      summary[lag]['shadowscale.forecastPeakMaeVsObserved'] = median(peak.map((r) => r.ratio));
      summary[lag]['shadowscale.tracesForecastPeakBetterThanObserved'] = peak.filter((r) => r.ratio < 1).length;
      console.log(
        `the forecast's peak over the next lag against the load observed, mean absolute error on the true peak, forecast ÷ observed: median ${summary[lag]['shadowscale.forecastPeakMaeVsObserved'].toFixed(3)}; below 1 on ${peak.filter((r) => r.ratio < 1).length} of ${peak.length} (${peak.map((r) => `${r.trace} ${r.ratio.toFixed(2)}`).join(', ')})`,
      );
    }
    if (foreseen.length > 0) {
      summary[lag]['shadowscale.risesForeseen'] = median(foreseen.map((r) => r.share));
      console.log(
        `the share of the next lag's rise above the load observed that the forecast's peak foresaw (1 − shortfall of the larger of the two ÷ shortfall of the observed load): median ${summary[lag]['shadowscale.risesForeseen'].toFixed(3)} (${foreseen.map((r) => `${r.trace} ${r.share.toFixed(2)}`).join(', ')})`,
      );
    }
    for (const policy of ['shadowscale', 'shadowscale+pool', 'shadowscale+spill']) {
      // The policy's unserved ÷ an hpa's, trace by trace (ratio.ts: a trace where that hpa leaves nothing
      // unserved and the policy does counts as a loss; where neither does, left out of the medians).
      const against = (field: 'hpaUnservedAtEqualCost' | 'hpaStrictUnservedAtEqualCost' | 'hpaUnservedAtServingCost') =>
        at.map((o) => {
          const p = o.report!.policies.find((x) => x.policy === policy)!;
          return { trace: o.trace.split('/').pop()!.replace('.csv', ''), ratio: ratioToHpa(p.unservedFraction, p[field]), extrapolated: p.equalCostExtrapolated };
        });
      // At equal cost: the headline.
      const ratios = against('hpaUnservedAtEqualCost');
      summary[lag][`${policy}.ratioToHpaAtEqualCost`] = median(ratios.map((r) => r.ratio));
      // Against a reactive HPA whose scale-up tolerance is 0 (how much the figure hangs on the tolerance).
      const strict = against('hpaStrictUnservedAtEqualCost');
      summary[lag][`${policy}.ratioToStrictHpaAtEqualCost`] = median(strict.map((r) => r.ratio));
      summary[lag][`${policy}.tracesAbove1.10VsStrictHpa`] = strict.filter((r) => r.ratio > 1.1).length;
      // Against the HPA spending what the serving set alone spent: how the figure would be were the warm
      // standby free (it is not: the headline counts it), to show how much of the gap it is.
      const serving = against('hpaUnservedAtServingCost');
      summary[lag][`${policy}.ratioToHpaAtServingCost`] = median(serving.map((r) => r.ratio));
      summary[lag][`${policy}.tracesAbove1.10AtServingCost`] = serving.filter((r) => r.ratio > 1.1).length;
      summary[lag][`${policy}.medianRatioToMedianHpaAtEqualCost`] = summary[lag][`${policy}.unservedFraction`] / summary[lag][`${policy}.hpaUnservedAtEqualCost`];
      const above = ratios.filter((r) => r.ratio > 1.1);
      // At defaults: the policy against hpa at its own default target, trace by trace.
      const worse = at.filter((o) => o.report!.policies.find((x) => x.policy === policy)!.unservedFraction > o.report!.policies.find((x) => x.policy === 'hpa')!.unservedFraction);
      const vsOracle = median(at.map((o) => o.report!.policies.find((x) => x.policy === policy)!.replicaSeconds / o.report!.policies.find((x) => x.policy === 'oracle')!.replicaSeconds));
      summary[lag][`${policy}.tracesAbove1.10`] = above.length;
      summary[lag][`${policy}.tracesWorseThanHpaAtDefaults`] = worse.length;
      summary[lag][`${policy}.replicaSecondsVsOracle`] = vsOracle;
      summary[lag][`${policy}.equalCostExtrapolated`] = ratios.filter((r) => r.extrapolated).length;
      console.log(`${policy}: median over traces of unserved ÷ hpa at equal cost ${summary[lag][`${policy}.ratioToHpaAtEqualCost`].toFixed(3)}; median unserved ÷ median hpa at equal cost ${summary[lag][`${policy}.medianRatioToMedianHpaAtEqualCost`].toFixed(3)}`);
      console.log(`  traces above 1.10: ${above.length} (${above.map((r) => `${r.trace} ${r.ratio.toFixed(2)}`).join(', ') || 'none'}); equal cost beyond hpa's targets: ${ratios.filter((r) => r.extrapolated).length}`);
      console.log(`  against an hpa with scale-up tolerance 0: median ${summary[lag][`${policy}.ratioToStrictHpaAtEqualCost`].toFixed(3)}, above 1.10: ${strict.filter((r) => r.ratio > 1.1).map((r) => `${r.trace} ${r.ratio.toFixed(2)}`).join(', ') || 'none'}`);
      console.log(`  against an hpa spending what the serving set alone spent (the shadows free): median ${summary[lag][`${policy}.ratioToHpaAtServingCost`].toFixed(3)}, above 1.10: ${serving.filter((r) => r.ratio > 1.1).map((r) => `${r.trace} ${r.ratio.toFixed(2)}`).join(', ') || 'none'}`);
      console.log(`  more unserved than hpa at its default target: ${worse.length} of ${at.length}; replica-seconds ÷ oracle's, median ${vsOracle.toFixed(3)}`);
    }
  }

  const results = join(ROOT, 'bench', 'results');
  mkdirSync(results, { recursive: true });
  writeFileSync(join(results, 'scaling.json'), `${JSON.stringify({ generatedAt: new Date().toISOString(), machine: `${process.platform} ${process.arch}, node ${process.version}`, lags, capacities, summary, wallSeconds: wall, runs: outcomes }, null, 2)}\n`);
  const rows = outcomes
    .filter((o) => o.report)
    .flatMap((o) => o.report!.policies.map((p) => ({ trace: o.trace.split('/').pop()!.replace('.csv', ''), lag: settingOf(o), ...p })));
  const chart = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Unserved load per trace and policy (log scale), by provisioning lag',
    data: { values: rows.map((r) => ({ ...r, unserved: Math.max(r.unservedFraction, 1e-7) })) },
    facet: { row: { field: 'lag', type: 'nominal' } },
    spec: { width: 900, height: 220, mark: { type: 'point', filled: true }, encoding: { x: { field: 'trace', type: 'nominal', sort: null }, y: { field: 'unserved', type: 'quantitative', scale: { type: 'log' } }, color: { field: 'policy', type: 'nominal' }, tooltip: [{ field: 'policy' }, { field: 'unservedFraction' }, { field: 'hpaUnservedAtEqualCost' }] } },
  };
  writeFileSync(
    join(results, 'scaling.html'),
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>shadowscale scaling benchmark</title>${vegaScripts()}</head><body style="font-family:system-ui,sans-serif">
<h1>shadowscale scaling benchmark</h1><pre>${JSON.stringify(summary, null, 2)}</pre><div id="chart"></div>
<script>vegaEmbed('#chart', ${JSON.stringify(chart)}, { actions: false, renderer: 'svg' });</script></body></html>\n`,
  );
  console.log('wrote bench/results/scaling.json and scaling.html');
}

await main();
