/**
 * shadowscale overview: one row per workload (repeated over `$workload`): observed load against the
 * forecast with its 80/95 % bands and the forecast made one provisioning lag ago; primary, shadow and
 * desired replicas; mirror coverage against the configured share; shadow readiness; forecast accuracy;
 * the fallback rung served. Promotions, reverts, pre-scales and receiver actions are annotations.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

import { above, annotation, below, boolMapping, labelVariable, shadowscaleDashboard, stat, stateTimeline, timeseries } from './lib.ts';

const W = 'namespace=~"$namespace", workload=~"$workload"';

export function overviewDashboard(): dashboard.Dashboard {
  const row = new dashboard.RowBuilder('$namespace / $workload').repeat('workload');

  row.withPanel(
    timeseries({
      title: 'Load and forecast',
      description:
        'Observed load (the workload\'s `load` query, as the adapter last read it) against the forecast for now that was made one provisioning lag ago (point, and its 80 % and 95 % bands) and the forecast for one lag ahead. Load outside the lagged 95 % band is an anomaly (ShadowscaleLoadAnomaly). The dashed line is what one more replica adds: capacity per replica.',
      unit: 'short',
      min: 0,
      w: 12,
      h: 9,
      thresholds: [{ value: null, color: 'green' }],
      queries: [
        { expr: `max by (namespace, workload) (shadowscale_observed_load{${W}})`, legend: 'observed' },
        { expr: `max by (namespace, workload, quantile) (shadowscale_forecast_lagged_load{${W}, quantile="0.5"})`, legend: 'forecast made one lag ago' },
        { expr: `max by (namespace, workload, quantile) (shadowscale_forecast_lagged_load{${W}, quantile="0.9"})`, legend: 'upper 80 %' },
        { expr: `max by (namespace, workload, quantile) (shadowscale_forecast_lagged_load{${W}, quantile="0.1"})`, legend: 'lower 80 %' },
        { expr: `max by (namespace, workload, quantile) (shadowscale_forecast_lagged_load{${W}, quantile="0.975"})`, legend: 'upper 95 %' },
        { expr: `max by (namespace, workload, quantile) (shadowscale_forecast_lagged_load{${W}, quantile="0.025"})`, legend: 'lower 95 %' },
        { expr: `max by (namespace, workload, quantile) (shadowscale_forecast_load{${W}, quantile="0.5"})`, legend: 'forecast one lag ahead' },
        { expr: `max by (namespace, workload) (shadowscale_predicted_load{${W}})`, legend: 'planned for (served to the HPA / KEDA)' },
        { expr: `max by (namespace, workload) (shadowscale_capacity_per_replica{${W}})`, legend: 'capacity per replica' },
      ],
      bands: [
        { upper: 'upper 80 %', lower: 'lower 80 %' },
        { upper: 'upper 95 %', lower: 'lower 95 %' },
      ],
      dashed: ['forecast one lag ahead', 'capacity per replica'],
    }),
  );
  row.withPanel(
    timeseries({
      title: 'Replicas: primary, shadow, desired',
      description:
        'Ready replicas of the primary and of the shadow (kube-state-metrics), the replicas served to the HPA / KEDA (desired), what the forecast plan asks for even in dry-run mode, and the shadow pool the planner wants warm. Desired above ready primaries means a scale-up under way; a shadow below the planned pool means pre-scaling has not caught up.',
      unit: 'short',
      min: 0,
      decimals: 0,
      w: 12,
      h: 9,
      thresholds: [{ value: null, color: 'green' }],
      queries: [
        { expr: `shadowscale:ready_replicas:count{${W}, role="primary"}`, legend: 'primary ready' },
        { expr: `shadowscale:ready_replicas:count{${W}, role="shadow"}`, legend: 'shadow ready' },
        { expr: `max by (namespace, workload) (shadowscale_desired_replicas{${W}})`, legend: 'desired (served)' },
        { expr: `max by (namespace, workload) (shadowscale_forecast_desired_replicas{${W}})`, legend: 'forecast plan' },
        { expr: `max by (namespace, workload) (shadowscale_shadow_pool_size{${W}})`, legend: 'planned shadow pool' },
      ],
      dashed: ['forecast plan', 'planned shadow pool'],
    }),
  );
  row.withPanel(
    timeseries({
      title: 'Mirror coverage and spill-over',
      description:
        'Share of the primary\'s requests that reach the shadows (mirror coverage) against the configured mirrorPercent. Far from it for 5 minutes fires ShadowscaleMirrorBroken: the shadows are not kept warm and cannot be promoted. Red below half the configured share is the default tolerance. Spill-over: the share of live traffic the receiver routes to the ready shadows while the serving set is short of the plan (receiver.spill); the mirror is suspended meanwhile, and its coverage not measured.',
      unit: 'percentunit',
      min: 0,
      w: 8,
      h: 7,
      thresholds: below(0.05, 'red', 'green'),
      showThresholds: false,
      queries: [
        { expr: `shadowscale:mirror_coverage:ratio_rate5m{${W}}`, legend: 'mirrored' },
        { expr: `shadowscale:mirror_coverage_configured:ratio{${W}}`, legend: 'configured' },
        { expr: `shadowscale:spill_share:ratio{${W}}`, legend: 'spilled live' },
      ],
      dashed: ['configured'],
    }),
  );
  row.withPanel(
    stateTimeline({
      title: 'Shadow readiness',
      description:
        'Ready: for 5 minutes the shadow received its share of the traffic and served it within the latency and error bounds of the primary (shadowscale:shadow_ready:bool). Only a ready shadow is promoted when the primary degrades.',
      unit: 'none',
      w: 8,
      h: 7,
      thresholds: below(1, 'red', 'green'),
      mappings: boolMapping('not ready', 'ready'),
      queries: [{ expr: `shadowscale:shadow_ready:bool{${W}}`, legend: 'shadow' }],
    }),
  );
  row.withPanel(
    stat({
      title: 'Served from',
      description:
        'The rung of the fallback ladder the adapter serves from: fresh forecast (normal), stale forecast within its TTL, reactive (observed load: the forecast failed or is too old), minimum (nothing known). Anything but fresh for long means forecasts are failing: see the health dashboard.',
      unit: 'none',
      w: 4,
      h: 7,
      thresholds: below(1, 'orange', 'green'),
      queries: [{ expr: `max by (rung) (shadowscale_serving_rung{${W}}) == 1`, legend: '{{rung}}', instant: true }],
    }),
  );
  row.withPanel(
    stat({
      title: 'Promoted',
      description: '1 while the configured shadow serves the traffic after a promotion (hot swap); back to 0 when the receiver reverts.',
      unit: 'none',
      w: 4,
      h: 7,
      thresholds: above(1, 'green', 'orange'),
      mappings: boolMapping('primary serves', 'shadow serves'),
      queries: [{ expr: `max(shadowscale_receiver_promoted{${W}})`, legend: 'promoted', instant: true }],
    }),
  );
  row.withPanel(
    timeseries({
      title: 'Forecast accuracy (last day)',
      description:
        'Mean absolute error of the forecast made one lag ago, relative to the mean load, and the share of observations inside its 95 % band, over the last day. Error above the bound (default 50 %) or coverage below its bound (default 80 %) fires ShadowscaleForecastInaccurate.',
      unit: 'percentunit',
      min: 0,
      w: 12,
      h: 7,
      thresholds: above(0.5, 'green', 'red'),
      showThresholds: true,
      queries: [
        { expr: `shadowscale:forecast_relative_error:ratio_1d{${W}}`, legend: 'relative error' },
        { expr: `shadowscale:forecast_coverage95:ratio_1d{${W}}`, legend: '95 % band coverage' },
      ],
    }),
  );
  row.withPanel(
    timeseries({
      title: 'Shadow cost',
      description: 'What the shadows cost, in replicas: replica-seconds per second of the standby set times its resource fraction (a shadow at half the resources counts half).',
      unit: 'short',
      min: 0,
      w: 12,
      h: 7,
      thresholds: [{ value: null, color: 'green' }],
      queries: [
        { expr: `rate(shadowscale_shadow_cost_replica_seconds_total{${W}}[$__rate_interval])`, legend: 'shadow cost (replicas)' },
        { expr: `shadowscale_shadow_replicas{${W}}`, legend: 'standby replicas' },
      ],
    }),
  );

  return shadowscaleDashboard('shadowscale / Overview', 'shadowscale-overview', 'Per workload: load against the forecast, replicas, mirroring, shadow readiness, forecast accuracy and what shadowscale did.', 'now-6h')
    .withVariable(labelVariable('namespace', 'Namespace', 'shadowscale_desired_replicas', { multi: true, all: true, description: 'Namespaces of the workloads shadowscale serves.' }))
    .withVariable(
      labelVariable('workload', 'Workload', 'shadowscale_desired_replicas{namespace=~"$namespace"}', { multi: true, all: true, description: 'Workloads (the `name` of each entry of the shadowscale configuration); one row each.' }),
    )
    .annotation(
      annotation(
        'Promotions and reverts',
        `changes(max by (namespace, workload) (shadowscale_receiver_promoted{${W}})[2m:]) > 0`,
        'orange',
        'Promotion or revert: {{namespace}}/{{workload}}',
        'The serving set changed (shadowscale_receiver_promoted).',
      ),
    )
    .annotation(
      annotation(
        'Pre-scales',
        `max by (namespace, workload, alertname) (ALERTS{${W}, alertstate="firing", shadowscale_action="prescale"})`,
        'blue',
        '{{alertname}}: {{namespace}}/{{workload}}',
        'A pre-scale alert was firing: the shadow pool and the HPA floor were raised.',
      ),
    )
    .annotation(
      annotation(
        'Receiver actions',
        `sum by (namespace, workload, kind) (increase(shadowscale_receiver_actions_total{${W}, result="success"}[2m])) > 0`,
        'purple',
        'shadowscale {{kind}}: {{namespace}}/{{workload}}',
        'The receiver changed the cluster (kind: scale, route, autoscaler, restart).',
      ),
    )
    .withRow(row)
    .build();
}
