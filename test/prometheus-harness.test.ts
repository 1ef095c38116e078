import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shiftToNow } from '../platform/runtime/openmetrics.ts';
import { queryRange, startPrometheus, type PrometheusServer } from '../platform/runtime/prometheus.ts';
import { loadFixture, NASA_TWO_WEEKS } from './harness/fixtures.ts';

describe('real Prometheus harness', () => {
  const week = 7 * 1440;
  const trace = loadFixture(NASA_TWO_WEEKS);
  const values = trace.values.slice(0, week);
  const timestamps = shiftToNow(trace.timestamps.slice(0, week), 120);
  let prometheus: PrometheusServer;

  beforeAll(async () => {
    prometheus = await startPrometheus({
      history: [{ name: 'http_requests_per_minute', labels: { workload: 'nasa', namespace: 'web' }, timestamps, values }],
    });
  });

  afterAll(async () => {
    await prometheus?.stop();
  });

  it('serves a backfilled week of a real trace back through query_range, sample for sample', async () => {
    const result = await queryRange(
      prometheus.url,
      'http_requests_per_minute{workload="nasa"}',
      timestamps[0],
      timestamps[timestamps.length - 1],
      60,
    );
    expect(result).toHaveLength(1);
    expect(result[0].metric).toMatchObject({ workload: 'nasa', namespace: 'web' });
    const got = result[0].values;
    expect(got).toHaveLength(week);
    expect(got.map(([t]) => t)).toEqual(timestamps);
    expect(got.map(([, v]) => Number(v))).toEqual(values);
  });

  it('stops the server by PID', async () => {
    const pid = prometheus.pid;
    await prometheus.stop();
    expect(() => process.kill(pid, 0)).toThrow();
    await expect(fetch(`${prometheus.url}/-/ready`)).rejects.toThrow();
  });
});
