/**
 * shadowscale workload drill-down (`$namespace`, `$workload`): primary and shadow side by side
 * (latency, errors, CPU, memory, load per replica against capacity), the shadow/primary ratios the
 * readiness gate uses, the anomaly score, the forecast model and its backtest, warm-up traffic, what
 * the plan would have changed while in dry-run, and the workload's alerts.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

import { above, annotation, labelVariable, shadowscaleDashboard, table, timeseries } from './lib.ts';

const W = 'namespace="$namespace", workload="$workload"';

export function workloadDashboard(): dashboard.Dashboard {
  const panels = [
    timeseries({
      title: 'p99 latency: primary vs shadow',
      description:
        'p99 request latency of each role over 5 minutes (from http_request_duration_seconds). The dashed line is the primary\'s SLO (`slo.latencyP99`): the primary above it for 2 minutes fires ShadowscalePrimaryDegraded. A shadow far above the primary is not ready.',
      unit: 's',
      min: 0,
      w: 12,
      h: 8,
      thresholds: above(0.5, 'green', 'red'),
      queries: [
        { expr: `shadowscale:request_latency_seconds:p99_rate5m{${W}}`, legend: 'p99 {{role}}' },
        { expr: `shadowscale:request_latency_seconds:p50_rate5m{${W}}`, legend: 'p50 {{role}}' },
        { expr: `shadowscale:bound:latency_p99_seconds{${W}}`, legend: 'SLO (p99)' },
      ],
      dashed: ['SLO (p99)'],
    }),
    timeseries({
      title: 'Error ratio: primary vs shadow',
      description:
        'Share of answers with a 5xx code, per role, over 5 minutes. The dashed line is the primary\'s SLO (`slo.errorRatio`, default 1 %). A shadow erring more than the primary by `shadow.readiness.errorRatioDiffMax` for 10 minutes fires ShadowscaleShadowDegraded and is restarted.',
      unit: 'percentunit',
      min: 0,
      w: 12,
      h: 8,
      thresholds: above(0.01, 'green', 'red'),
      queries: [
        { expr: `shadowscale:request_errors:ratio_rate5m{${W}}`, legend: '{{role}}' },
        { expr: `shadowscale:bound:error_ratio{${W}}`, legend: 'SLO' },
      ],
      dashed: ['SLO'],
    }),
    timeseries({
      title: 'CPU per replica',
      description: 'Average CPU used by one pod of each role (cAdvisor). Shadows run at `shadow.resourceFraction` of the primary\'s resources; a shadow near its limit is too small for its share of traffic.',
      unit: 'cores',
      min: 0,
      w: 8,
      h: 8,
      thresholds: [{ value: null, color: 'green' }],
      queries: [{ expr: `shadowscale:cpu_usage_cores:per_replica_rate5m{${W}}`, legend: '{{role}}' }],
    }),
    timeseries({
      title: 'Memory per replica',
      description: 'Average working set of one pod of each role (cAdvisor). A shadow whose memory grows unlike the primary\'s differs from it (configuration, data).',
      unit: 'bytes',
      min: 0,
      w: 8,
      h: 8,
      thresholds: [{ value: null, color: 'green' }],
      queries: [{ expr: `shadowscale:memory_working_set_bytes:per_replica{${W}}`, legend: '{{role}}' }],
    }),
    timeseries({
      title: 'Requests per ready replica vs capacity',
      description:
        'Requests per second each ready replica serves, per role, against the configured capacity per replica (dashed, `capacityPerReplica`, in the unit of the workload\'s load query). Primaries above capacity are overloaded; the HPA target is set from it.',
      unit: 'reqps',
      min: 0,
      w: 8,
      h: 8,
      thresholds: [{ value: null, color: 'green' }],
      queries: [
        { expr: `shadowscale:requests_per_ready_replica:rate1m{${W}}`, legend: '{{role}}' },
        { expr: `max by (namespace, workload) (shadowscale_capacity_per_replica{${W}})`, legend: 'capacity per replica' },
      ],
      dashed: ['capacity per replica'],
    }),
    timeseries({
      title: 'Shadow ÷ primary',
      description:
        'What the readiness gate compares: shadow p99 latency ÷ primary p99 latency (bound `shadow.readiness.latencyRatioMax`, default 1.5) and shadow error ratio − primary error ratio (bound `errorRatioDiffMax`, default 0.01). Both within bounds for 5 minutes, with the mirror at its share, make the shadow ready.',
      unit: 'none',
      w: 12,
      h: 8,
      thresholds: above(1.5, 'green', 'red'),
      showThresholds: true,
      queries: [
        { expr: `shadowscale:shadow_latency_p99:ratio_rate5m{${W}}`, legend: 'p99 latency ratio' },
        { expr: `shadowscale:shadow_error_ratio:diff_rate5m{${W}}`, legend: 'error ratio difference' },
        { expr: `shadowscale:bound:shadow_latency_ratio_max{${W}}`, legend: 'latency ratio bound' },
      ],
      dashed: ['latency ratio bound'],
    }),
    timeseries({
      title: 'Anomaly score',
      description:
        'How many spreads the load is above its weekly baseline: the median over the previous 1 to 3 weeks of the load around the same time of the week (90th percentile within an hour and a half either side). The spread is the median absolute deviation over the last day, at least 10 % of the baseline and min_request_rate. When the workload has no forecast, above the bound (dashed, `anomalyZScore`, default 3) for 2 minutes fires ShadowscaleLoadAnomaly, which pre-scales the shadows; with a forecast, the 95 % band decides.',
      unit: 'none',
      w: 12,
      h: 8,
      thresholds: above(3, 'green', 'red'),
      queries: [
        { expr: `shadowscale:load:anomaly_score{${W}}`, legend: 'score' },
        { expr: `shadowscale:bound:anomaly_zscore{${W}}`, legend: 'bound' },
      ],
      dashed: ['bound'],
    }),
    table({
      title: 'Forecast model and backtest',
      description:
        'The model producing the forecast (chosen by rolling-origin backtest; rung > 1 means a fallback), and its backtest errors at the provisioning lag: relative_mae below 1 beats seasonal-naive; coverage80 / coverage95 are the shares of actuals inside the bands (near 0.8 / 0.95 when calibrated).',
      unit: 'none',
      decimals: 3,
      w: 12,
      h: 7,
      thresholds: [{ value: null, color: 'green' }],
      queries: [
        { expr: `max by (model, rung) (shadowscale_forecast_model{${W}}) == 1`, legend: '{{model}} (rung {{rung}})', instant: true },
        { expr: `max by (metric) (shadowscale_backtest_error{${W}})`, legend: '{{metric}}', instant: true },
      ],
    }),
    timeseries({
      title: 'Warm-up traffic',
      description:
        'Synthetic warm-up requests sent to the shadow per second, by outcome (only when `shadow.warmup.enabled`), and the rate aimed at (share of the primary\'s allowed request mix, at most maxRps). Errors mean the shadow fails requests the primary serves.',
      unit: 'reqps',
      min: 0,
      w: 12,
      h: 7,
      thresholds: [{ value: null, color: 'green' }],
      queries: [
        { expr: `sum by (outcome) (rate(shadowscale_warmup_requests_total{${W}}[$__rate_interval]))`, legend: '{{outcome}}' },
        { expr: `shadowscale_warmup_target_rps{${W}}`, legend: 'target' },
      ],
      dashed: ['target'],
    }),
    timeseries({
      title: 'What shadowscale would have changed (dry-run): unserved load',
      description:
        'While the workload is in `dryRun`, over the last day: the share of the observed load that would have gone unserved with the HPA asked what it is asked now (hpa) and with it asked what the forecast plan would ask (shadowscale), each through the HPA algorithm and replicas that take the provisioning lag to be ready. Read it, with the next panel, before turning `dryRun` off. Empty for workloads that serve their plan.',
      unit: 'percentunit',
      min: 0,
      w: 12,
      h: 7,
      thresholds: [{ value: null, color: 'green' }],
      queries: [{ expr: `max by (side) (shadowscale_whatif_unserved_ratio{${W}})`, legend: '{{side}}' }],
    }),
    timeseries({
      title: 'What shadowscale would have changed (dry-run): replica-seconds',
      description:
        'While the workload is in `dryRun`, over the last day (or since the adapter started, shadowscale_whatif_window_seconds): the replica-seconds each side of the previous panel would have cost. shadowscale buys its lower unserved load with these.',
      unit: 's',
      min: 0,
      w: 12,
      h: 7,
      thresholds: [{ value: null, color: 'green' }],
      queries: [{ expr: `max by (side) (shadowscale_whatif_replica_seconds{${W}})`, legend: '{{side}}' }],
    }),
    table({
      title: 'Alerts',
      description: 'The workload\'s shadowscale alerts now, pending or firing, with the action the receiver takes on each (shadowscale_action) and why (reason).',
      unit: 'none',
      w: 24,
      h: 6,
      thresholds: [{ value: null, color: 'green' }],
      queries: [{ expr: `ALERTS{${W}}`, legend: '{{alertname}} {{alertstate}} {{shadowscale_action}} {{reason}}', instant: true }],
    }),
  ];

  const b = shadowscaleDashboard('shadowscale / Workload', 'shadowscale-workload', 'One workload in detail: primary and shadow side by side, readiness inputs, anomaly score, the forecast model, warm-up traffic and alerts.', 'now-3h')
    .withVariable(labelVariable('namespace', 'Namespace', 'shadowscale_desired_replicas', { multi: false, all: false, description: 'The workload\'s namespace.' }))
    .withVariable(labelVariable('workload', 'Workload', 'shadowscale_desired_replicas{namespace="$namespace"}', { multi: false, all: false, description: 'The workload (an entry of the shadowscale configuration).' }))
    .annotation(
      annotation(
        'Alerts firing',
        `max by (alertname, shadowscale_action) (ALERTS{${W}, alertstate="firing"})`,
        'red',
        '{{alertname}} ({{shadowscale_action}})',
        'A shadowscale alert was firing for this workload.',
      ),
    );
  for (const p of panels) b.withPanel(p);
  return b.build();
}
