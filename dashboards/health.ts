/**
 * shadowscale health: the adapter's and the receiver's own metrics. Forecast fits (durations, errors),
 * Prometheus queries (latency, errors), how old the served forecasts are, the adapter's API latency to
 * the HPA and KEDA, webhook outcomes, actions and their latency, reconciliation errors, leadership.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

import { above, below, shadowscaleDashboard, stat, timeseries } from './lib.ts';

export function healthDashboard(): dashboard.Dashboard {
  const adapter = new dashboard.RowBuilder('Adapter');
  for (const p of [
    timeseries({
      title: 'Forecast fit duration',
      description: 'p50 and p99 of one forecast fit (worker thread, including the backtest when one ran), by model. Fits longer than the refresh interval delay every workload behind them.',
      unit: 's',
      min: 0,
      w: 8,
      h: 8,
      thresholds: above(30, 'green', 'orange'),
      queries: [
        { expr: 'histogram_quantile(0.5, sum by (le, model) (rate(shadowscale_fit_duration_seconds_bucket[$__rate_interval])))', legend: 'p50 {{model}}' },
        { expr: 'histogram_quantile(0.99, sum by (le, model) (rate(shadowscale_fit_duration_seconds_bucket[$__rate_interval])))', legend: 'p99 {{model}}' },
      ],
    }),
    timeseries({
      title: 'Fit and query errors',
      description: 'Forecast fits that failed, and Prometheus queries that failed by type (timeout, HTTP status, bad data), per second, per workload. A workload whose fits fail is served from the fallback ladder (reactive).',
      unit: 'ops',
      min: 0,
      w: 8,
      h: 8,
      thresholds: above(0.01, 'green', 'red'),
      queries: [
        { expr: 'sum by (namespace, workload) (rate(shadowscale_fit_errors_total[$__rate_interval]))', legend: 'fit errors {{namespace}}/{{workload}}' },
        { expr: 'sum by (namespace, workload, error_type) (rate(shadowscale_prometheus_query_errors_total[$__rate_interval]))', legend: 'query errors {{namespace}}/{{workload}} {{error_type}}' },
      ],
    }),
    timeseries({
      title: 'Prometheus query latency',
      description: 'p50 and p99 of the adapter\'s history queries to Prometheus, by result. Slow queries delay forecasts; check the history length and step.',
      unit: 's',
      min: 0,
      w: 8,
      h: 8,
      thresholds: above(5, 'green', 'orange'),
      queries: [
        { expr: 'histogram_quantile(0.5, sum by (le, result) (rate(shadowscale_prometheus_query_duration_seconds_bucket[$__rate_interval])))', legend: 'p50 {{result}}' },
        { expr: 'histogram_quantile(0.99, sum by (le, result) (rate(shadowscale_prometheus_query_duration_seconds_bucket[$__rate_interval])))', legend: 'p99 {{result}}' },
      ],
    }),
    timeseries({
      title: 'Forecast age',
      description: 'Seconds since each served forecast was fitted (the forecast cache\'s age). Beyond the TTL (dashed) the adapter serves the observed load instead and ShadowscaleForecastStale fires.',
      unit: 's',
      min: 0,
      w: 8,
      h: 8,
      thresholds: [{ value: null, color: 'green' }],
      queries: [
        { expr: 'shadowscale_forecast_age_seconds', legend: '{{namespace}}/{{workload}}' },
        { expr: 'max(shadowscale:bound:forecast_ttl_seconds)', legend: 'TTL' },
      ],
      dashed: ['TTL'],
    }),
    stat({
      title: 'Workloads refreshed',
      description: 'Share of workloads whose last refresh (history query and fit) succeeded. Below 1, look at the errors panel and the adapter\'s log.',
      unit: 'percentunit',
      min: 0,
      max: 1,
      w: 4,
      h: 8,
      thresholds: below(1, 'red', 'green'),
      queries: [{ expr: 'avg(shadowscale_last_refresh_success)', legend: 'refreshed', instant: true }],
    }),
    timeseries({
      title: 'API latency to the HPA and KEDA',
      description: 'p99 of the adapter\'s answers by API (external metrics for the HPA, KEDA gRPC, metrics-api, REST). The HPA controller times out after 30 s by default; KEDA polls every pollingInterval.',
      unit: 's',
      min: 0,
      w: 12,
      h: 8,
      thresholds: above(1, 'green', 'red'),
      queries: [{ expr: 'histogram_quantile(0.99, sum by (le, api) (rate(shadowscale_adapter_request_duration_seconds_bucket[$__rate_interval])))', legend: 'p99 {{api}}' }],
    }),
  ])
    adapter.withPanel(p);

  const receiver = new dashboard.RowBuilder('Receiver');
  for (const p of [
    timeseries({
      title: 'Webhooks by outcome',
      description:
        'Alertmanager notifications per second: accepted (news), duplicate (nothing new: retries, HA pairs), forwarded (to the leader), invalid (400), unauthorized (401), too_large (413), unavailable (503, Alertmanager retries). Unauthorized or invalid mean a misconfigured Alertmanager receiver.',
      unit: 'ops',
      min: 0,
      w: 12,
      h: 8,
      stacked: true,
      thresholds: [{ value: null, color: 'green' }],
      queries: [{ expr: 'sum by (outcome) (rate(shadowscale_receiver_webhooks_total[$__rate_interval]))', legend: '{{outcome}}' }],
    }),
    timeseries({
      title: 'Actions by kind and result',
      description: 'Steps the receiver took per second (scale, route, autoscaler, restart), by result: success, error (retried at the next resync), dry_run (logged only), disabled (workload actions off).',
      unit: 'ops',
      min: 0,
      w: 12,
      h: 8,
      thresholds: [{ value: null, color: 'green' }],
      queries: [{ expr: 'sum by (kind, result) (rate(shadowscale_receiver_actions_total[$__rate_interval]))', legend: '{{kind}} {{result}}' }],
    }),
    timeseries({
      title: 'Webhook to first API call',
      description: 'p50 and p99 of the time from a webhook that changed a desired state to the first Kubernetes call made for it.',
      unit: 's',
      min: 0,
      w: 8,
      h: 8,
      thresholds: above(1, 'green', 'orange'),
      queries: [
        { expr: 'histogram_quantile(0.5, sum by (le) (rate(shadowscale_receiver_receipt_to_api_call_seconds_bucket[$__rate_interval])))', legend: 'p50' },
        { expr: 'histogram_quantile(0.99, sum by (le) (rate(shadowscale_receiver_receipt_to_api_call_seconds_bucket[$__rate_interval])))', legend: 'p99' },
      ],
    }),
    timeseries({
      title: 'Reconciliation errors',
      description: 'Reconciliations that failed (API errors after retries, state not recorded), per second, per workload; each is retried at the next resync.',
      unit: 'ops',
      min: 0,
      w: 8,
      h: 8,
      thresholds: above(0.001, 'green', 'red'),
      queries: [{ expr: 'sum by (namespace, workload) (rate(shadowscale_receiver_reconcile_errors_total[$__rate_interval]))', legend: '{{namespace}}/{{workload}}' }],
    }),
    stat({
      title: 'Receiver leaders',
      description: 'Receiver replicas that hold the Lease and act. Exactly 1 is healthy; 0 means nobody acts on alerts (webhooks answer 503), more than 1 should never happen.',
      unit: 'none',
      decimals: 0,
      w: 4,
      h: 8,
      thresholds: [
        { value: null, color: 'red' },
        { value: 1, color: 'green' },
        { value: 2, color: 'red' },
      ],
      queries: [{ expr: 'sum(shadowscale_receiver_leader)', legend: 'leaders', instant: true }],
    }),
    stat({
      title: 'Dry run',
      description: '1 when a receiver only logs what it would do (receiver.dryRun or --dry-run).',
      unit: 'none',
      decimals: 0,
      w: 4,
      h: 8,
      thresholds: above(1, 'green', 'orange'),
      queries: [{ expr: 'max(shadowscale_receiver_dry_run)', legend: 'dry run', instant: true }],
    }),
  ])
    receiver.withPanel(p);

  return shadowscaleDashboard('shadowscale / Health', 'shadowscale-health', 'shadowscale\'s own health: forecast fits, Prometheus queries, forecast age, API latency, webhooks, actions, leadership.', 'now-6h')
    .withRow(adapter)
    .withRow(receiver)
    .build();
}
