/**
 * The simulator's HTML report: one self-contained page (Vega-Lite and its runtime inlined), readable
 * offline, with the load against each policy's ready capacity, the unserved load, hpa's cost/unserved
 * frontier with every policy on it, and the table.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { PolicyResult } from '../core/simulator/simulate.ts';

const require = createRequire(import.meta.url);

/** The package's root: its entry point's nearest folder with its package.json (exports hide it). */
function packageRoot(pkg: string): string {
  let dir = dirname(require.resolve(pkg));
  while (!existsSync(join(dir, 'package.json')) || JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name !== pkg) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the root of the ${pkg} package`);
    dir = parent;
  }
  return dir;
}

function script(pkg: string, file: string): string {
  const path = join(packageRoot(pkg), 'build', file);
  return readFileSync(path, 'utf8').replace(/<\/script/gi, '<\\/script');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** At most `points` points per policy: the max load and min capacity of each bucket, so peaks show. */
function downsample(result: PolicyResult, points: number) {
  const k = Math.max(1, Math.ceil(result.timeline.length / points));
  const out = [];
  for (let i = 0; i < result.timeline.length; i += k) {
    const bucket = result.timeline.slice(i, i + k);
    const load = Math.max(...bucket.map((p) => p.load));
    const capacity = Math.min(...bucket.map((p) => p.capacity));
    out.push({ t: bucket[0].t * 1000, policy: result.policy, load, capacity, unserved: Math.max(0, ...bucket.map((p) => p.load - p.capacity)) });
  }
  return out;
}

/** Vega, Vega-Lite and vega-embed as inline <script> elements, for pages readable offline. */
export function vegaScripts(): string {
  return ['vega:vega.min.js', 'vega-lite:vega-lite.min.js', 'vega-embed:vega-embed.min.js']
    .map((entry) => {
      const [pkg, file] = entry.split(':');
      return `<script>${script(pkg, file)}</script>`;
    })
    .join('\n');
}

/** What `shadowscale simulate --json` prints, and the report is rendered from. */
export interface SimulationReport {
  trace: string;
  steps: number;
  capacityPerReplica: number;
  provisioningLagSeconds: number;
  targetUtilization: number;
  policies: Array<
    Pick<PolicyResult, 'policy' | 'unservedFraction' | 'violationSeconds' | 'replicaSeconds' | 'shadowReplicaSeconds' | 'peakReplicas' | 'scaleActions' | 'poolReturns' | 'spillSeconds' | 'scoredTicks' | 'skippedTicks'> & {
      hpaUnservedAtEqualCost: number;
      /** The reactive HPA's target utilisation that spends the same replica-seconds (bisection). */
      hpaTargetAtEqualCost: number;
      equalCostExtrapolated: boolean;
      /** The reactive HPA's unserved at equal cost when it scales up at any rise (behavior.scaleUp.tolerance 0). */
      hpaStrictUnservedAtEqualCost: number;
      /**
       * The reactive HPA's unserved at the replica-seconds of the serving set alone (the policy's less
       * its shadows'): how the policy compares were its warm standby free. The same as at equal cost
       * without shadows.
       */
      hpaUnservedAtServingCost: number;
      /**
       * For a policy that plans on a forecast, read only: the mean absolute error, over the scored
       * ticks, of the forecast's peak over the next lag and of the load the plan observed, each against
       * the true peak over that lag (below 1 for their ratio, the forecast tells the plan more than the
       * load it already sees); and the mean amount by which the true peak rose above the observed load,
       * and above the larger of it and the forecast's peak (what the level plan reads): the share of the
       * first that the second removes is the part of the coming rises the forecast foresaw.
       */
      peakError?: { forecastMae: number; observedMae: number; observedShortfall: number; planShortfall: number; ticks: number };
    }
  >;
  frontier: Array<Pick<PolicyResult, 'targetUtilization' | 'replicaSeconds' | 'unservedFraction'>>;
}

export function renderReport(report: SimulationReport, results: PolicyResult[], frontier: PolicyResult[]): string {
  const series = results.flatMap((r) => downsample(r, 2000));
  const load = downsample(results[0], 2000).map((p) => ({ t: p.t, load: p.load }));
  const timeChart = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Load and ready capacity per policy',
    width: 'container',
    height: 320,
    layer: [
      { data: { values: load }, mark: { type: 'area', opacity: 0.25, color: '#888' }, encoding: { x: { field: 't', type: 'temporal', title: 'time' }, y: { field: 'load', type: 'quantitative', title: 'requests/s' } } },
      { data: { values: series }, mark: { type: 'line', strokeWidth: 1 }, encoding: { x: { field: 't', type: 'temporal' }, y: { field: 'capacity', type: 'quantitative' }, color: { field: 'policy', type: 'nominal' } } },
    ],
  };
  const unservedChart = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Unserved load (above ready capacity)',
    width: 'container',
    height: 200,
    data: { values: series },
    mark: { type: 'area', opacity: 0.6 },
    encoding: {
      x: { field: 't', type: 'temporal', title: 'time' },
      y: { field: 'unserved', type: 'quantitative', title: 'requests/s unserved', stack: null },
      color: { field: 'policy', type: 'nominal' },
    },
  };
  const frontierChart = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Cost against unserved load: hpa at target utilisations 0.95 … 0.3, and each policy',
    width: 'container',
    height: 280,
    layer: [
      {
        data: { values: frontier.map((f) => ({ cost: f.replicaSeconds, unserved: f.unservedFraction, target: f.targetUtilization })) },
        mark: { type: 'line', point: true, color: '#888' },
        encoding: { x: { field: 'cost', type: 'quantitative', title: 'replica-seconds', scale: { zero: false } }, y: { field: 'unserved', type: 'quantitative', title: 'unserved fraction' }, tooltip: [{ field: 'target' }] },
      },
      {
        data: { values: results.map((r) => ({ cost: r.replicaSeconds, unserved: r.unservedFraction, policy: r.policy })) },
        mark: { type: 'point', filled: true, size: 120 },
        encoding: { x: { field: 'cost', type: 'quantitative' }, y: { field: 'unserved', type: 'quantitative' }, color: { field: 'policy', type: 'nominal' }, tooltip: [{ field: 'policy' }] },
      },
    ],
  };
  const rows = report.policies
    .map(
      (p) =>
        `<tr><td>${escapeHtml(p.policy)}</td><td>${(p.unservedFraction * 100).toFixed(3)} %</td><td>${(p.violationSeconds / 60).toFixed(0)} min</td><td>${p.replicaSeconds.toExponential(3)}</td><td>${p.shadowReplicaSeconds.toExponential(3)}</td><td>${p.peakReplicas}</td><td>${p.scaleActions}</td><td>${p.poolReturns}</td><td>${(p.hpaUnservedAtEqualCost * 100).toFixed(3)} %${p.equalCostExtrapolated ? ' *' : ''}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shadowscale simulation: ${escapeHtml(report.trace)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}.chart{width:100%;margin:1.5em 0}</style>
${vegaScripts()}
</head><body>
<h1>shadowscale simulation</h1>
<p>Trace <code>${escapeHtml(report.trace)}</code>: ${report.steps} ticks of 15 s; capacity ${report.capacityPerReplica.toPrecision(4)} requests/s per replica;
provisioning lag ${report.provisioningLagSeconds} s; HPA target utilisation ${report.targetUtilization}.</p>
<table><thead><tr><th>policy</th><th>unserved</th><th>violation</th><th>replica-seconds</th><th>of which shadows</th><th>peak replicas</th><th>scale actions</th><th>pool returns</th><th>hpa unserved at equal cost</th></tr></thead>
<tbody>${rows}</tbody></table>
<p>* outside hpa's frontier: the nearest end is shown.</p>
<div id="time" class="chart"></div><div id="unserved" class="chart"></div><div id="frontier" class="chart"></div>
<script>
const opts = { actions: false, renderer: 'svg' };
vegaEmbed('#time', ${JSON.stringify(timeChart)}, opts);
vegaEmbed('#unserved', ${JSON.stringify(unservedChart)}, opts);
vegaEmbed('#frontier', ${JSON.stringify(frontierChart)}, opts);
</script>
</body></html>
`;
}
