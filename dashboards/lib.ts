/**
 * Small helpers over @grafana/grafana-foundation-sdk so that every panel of the shadowscale
 * dashboards says what it shows (description), in which unit, and where the line between fine and
 * not fine lies (thresholds), and every query goes to the `$datasource` variable.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as StateTimelineBuilder } from '@grafana/grafana-foundation-sdk/statetimeline';
import { PanelBuilder as TableBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

export const DATASOURCE: common.DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

export interface Query {
  expr: string;
  legend: string;
  /** Instant query (tables, stats of the current value). */
  instant?: boolean;
}

export interface Step {
  value: number | null;
  color: string;
}

export interface PanelSpec {
  title: string;
  description: string;
  unit: string;
  queries: Query[];
  /** Absolute thresholds, the first one with value null (the base). */
  thresholds: Step[];
  w: number;
  h: number;
  min?: number;
  max?: number;
  decimals?: number;
  mappings?: dashboard.ValueMapping[];
}

export const GREEN_ONLY: Step[] = [{ value: null, color: 'green' }];
export const above = (value: number, base = 'green', over = 'red'): Step[] => [
  { value: null, color: base },
  { value, color: over },
];
export const below = (value: number, under = 'red', base = 'green'): Step[] => [
  { value: null, color: under },
  { value, color: base },
];

function thresholds(steps: Step[]): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps(steps);
}

function targets(queries: Query[]): DataqueryBuilder[] {
  return queries.map((q, i) => {
    const b = new DataqueryBuilder()
      .datasource(DATASOURCE)
      .expr(q.expr)
      .legendFormat(q.legend)
      .refId(String.fromCharCode(65 + i));
    return q.instant ? b.instant() : b.range();
  });
}

function common_<T extends TimeseriesBuilder | StatBuilder | StateTimelineBuilder | TableBuilder>(b: T, s: PanelSpec): T {
  b.title(s.title).description(s.description).unit(s.unit).datasource(DATASOURCE).span(s.w).height(s.h).thresholds(thresholds(s.thresholds));
  for (const t of targets(s.queries)) b.withTarget(t);
  if (s.min !== undefined) b.min(s.min);
  if (s.max !== undefined) b.max(s.max);
  if (s.decimals !== undefined) b.decimals(s.decimals);
  if (s.mappings) b.mappings(s.mappings);
  return b;
}

export interface TimeseriesSpec extends PanelSpec {
  /** Draw the thresholds on the graph (dashed lines). */
  showThresholds?: boolean;
  /** Shade between two series: the band's upper series is filled down to the lower one. */
  bands?: Array<{ upper: string; lower: string }>;
  /** Series drawn dashed (bounds, targets). */
  dashed?: string[];
  stacked?: boolean;
}

export function timeseries(s: TimeseriesSpec): TimeseriesBuilder {
  const b = common_(new TimeseriesBuilder(), s)
    .lineWidth(1)
    .fillOpacity(0)
    .legend(new common.VizLegendOptionsBuilder().displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom).showLegend(true))
    .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(s.showThresholds ? common.GraphThresholdsStyleMode.Dashed : common.GraphThresholdsStyleMode.Off));
  if (s.stacked) b.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal)).fillOpacity(30);
  for (const band of s.bands ?? []) {
    b.overrideByName(band.upper, [
      { id: 'custom.fillBelowTo', value: band.lower },
      { id: 'custom.fillOpacity', value: 15 },
      { id: 'custom.lineWidth', value: 0 },
    ]);
    b.overrideByName(band.lower, [{ id: 'custom.lineWidth', value: 0 }]);
  }
  for (const name of s.dashed ?? []) b.overrideByName(name, [{ id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } }]);
  return b;
}

export function stat(s: PanelSpec): StatBuilder {
  return common_(new StatBuilder(), s)
    .colorMode(common.BigValueColorMode.Background)
    .graphMode(common.BigValueGraphMode.None)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
}

export function stateTimeline(s: PanelSpec): StateTimelineBuilder {
  return common_(new StateTimelineBuilder(), s).showValue(common.VisibilityMode.Never).mergeValues(true);
}

export function table(s: PanelSpec): TableBuilder {
  return common_(new TableBuilder(), s);
}

/** Value mappings of a 0/1 signal. */
export function boolMapping(zero: string, one: string): dashboard.ValueMapping[] {
  return [
    {
      type: dashboard.MappingType.ValueToText,
      options: { '0': { text: zero, color: 'red', index: 0 }, '1': { text: one, color: 'green', index: 1 } },
    },
  ];
}

/** A shadowscale dashboard: tagged, refreshed every 30 s, browser time, with the datasource variable. */
export function shadowscaleDashboard(title: string, uid: string, description: string, from: string): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['shadowscale'])
    .editable()
    .refresh('30s')
    .time({ from, to: 'now' })
    .timezone('browser')
    .withVariable(datasourceVariable());
}

export function datasourceVariable(): dashboard.DatasourceVariableBuilder {
  return new dashboard.DatasourceVariableBuilder('datasource').label('Data source').type('prometheus');
}

/** A label's values as a Grafana Prometheus query variable (`label_values(metric, label)`). */
export function labelVariable(name: string, label: string, metric: string, options: { multi: boolean; all: boolean; description: string }): dashboard.QueryVariableBuilder {
  const b = new dashboard.QueryVariableBuilder(name)
    .label(label)
    .description(options.description)
    .datasource(DATASOURCE)
    .query(`label_values(${metric}, ${name})`)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(options.multi)
    .includeAll(options.all);
  if (options.all) b.allValue('.*');
  return b;
}

export function annotation(name: string, expr: string, color: string, title: string, text: string): dashboard.AnnotationQueryBuilder {
  return new dashboard.AnnotationQueryBuilder()
    .name(name)
    .datasource(DATASOURCE)
    .enable(true)
    .iconColor(color)
    .expr(expr)
    .step('60s')
    .titleFormat(title)
    .textFormat(text)
    .useValueForTime(false);
}
