/**
 * KEDA's external scaler (gRPC, @grpc/grpc-js). A ScaledObject trigger of `type: external` (or
 * `external-push`) names the workload in its metadata:
 *
 *   metadata: { scalerAddress: shadowscale-adapter.shadowscale:9100, workload: checkout,
 *               metric: shadowscale_predicted_load (the namespace is the ScaledObject's, always),
 *               targetValue: "50" (default: capacityPerReplica), activationThreshold: "0" }
 *
 * KEDA uses a float field only when it is > 0 and falls back to the deprecated int64 otherwise, so
 * both are always filled.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { WorkloadConfig } from '../core/config.ts';
import { EXTERNAL_METRICS, externalMetric, type ExternalMetric } from './external-metrics.ts';
import type { ForecastLoop } from './forecast-loop.ts';
import type { AdapterMetrics } from './metrics.ts';

export const PROTO_PATH = fileURLToPath(new URL('./externalscaler.proto', import.meta.url));

interface ScaledObjectRef {
  name: string;
  namespace: string;
  scalerMetadata: Record<string, string>;
}

export function loadExternalScalerProto(): grpc.GrpcObject {
  const definition = protoLoader.loadSync(PROTO_PATH, { keepCase: true, longs: Number, defaults: true });
  return grpc.loadPackageDefinition(definition);
}

class ScalerError extends Error {
  constructor(readonly code: grpc.status, message: string) {
    super(message);
  }
}

export function createKedaService(loop: ForecastLoop, metrics: AdapterMetrics): grpc.UntypedServiceImplementation {
  const resolve = (ref: ScaledObjectRef | undefined): { w: WorkloadConfig; metric: string; definition: ExternalMetric } => {
    const meta = ref?.scalerMetadata ?? {};
    const name = meta.workload;
    if (!name) throw new ScalerError(grpc.status.INVALID_ARGUMENT, 'trigger metadata "workload" is required (the shadowscale workload name)');
    // The ScaledObject's own namespace, which KEDA sets: a trigger reads workloads of its namespace only
    // (whoever may create a ScaledObject in one namespace must not read another's forecasts).
    const namespace = ref?.namespace ?? '';
    if (!namespace) throw new ScalerError(grpc.status.INVALID_ARGUMENT, 'the ScaledObjectRef has no namespace (KEDA sets it to the ScaledObject\'s)');
    if (meta.namespace && meta.namespace !== namespace) {
      throw new ScalerError(grpc.status.PERMISSION_DENIED, `trigger metadata "namespace": "${meta.namespace}" is not the ScaledObject's namespace "${namespace}"; a ScaledObject reads only workloads of its own namespace`);
    }
    const w = loop.workloads().find((x) => x.name === name && x.namespace === namespace);
    if (!w) throw new ScalerError(grpc.status.NOT_FOUND, `no shadowscale workload "${name}" in namespace "${namespace}"`);
    const metric = meta.metric || 'shadowscale_predicted_load';
    const definition = externalMetric(metric);
    if (!definition) {
      throw new ScalerError(grpc.status.INVALID_ARGUMENT, `trigger metadata "metric": "${metric}" is not served; use one of ${Object.keys(EXTERNAL_METRICS).join(', ')}`);
    }
    return { w, metric, definition };
  };
  const value = ({ w, definition }: { w: WorkloadConfig; definition: ExternalMetric }) => {
    // UNAVAILABLE while the first forecast is computed: KEDA keeps the replicas it has.
    if (!loop.computed(w.namespace, w.name)) throw new ScalerError(grpc.status.UNAVAILABLE, `shadowscale is computing the first forecast of ${w.namespace}/${w.name}; retry shortly`);
    return definition.pick(loop.served(w.namespace, w.name)!);
  };
  const threshold = (ref: ScaledObjectRef): number => {
    const raw = ref.scalerMetadata?.activationThreshold;
    const n = raw === undefined ? 0 : Number(raw);
    if (!Number.isFinite(n)) throw new ScalerError(grpc.status.INVALID_ARGUMENT, `trigger metadata "activationThreshold": "${raw}" is not a number`);
    return n;
  };

  const unary = <Req, Res>(method: string, handler: (req: Req) => Res): grpc.handleUnaryCall<Req, Res> => (call, callback) => {
    const started = performance.now();
    try {
      const response = handler(call.request);
      metrics.requestObserved('keda_grpc', method, 'OK', (performance.now() - started) / 1000);
      callback(null, response);
    } catch (error) {
      const code = error instanceof ScalerError ? error.code : grpc.status.INTERNAL;
      metrics.requestObserved('keda_grpc', method, grpc.status[code], (performance.now() - started) / 1000);
      callback({ code, message: (error as Error).message });
    }
  };

  return {
    IsActive: unary<ScaledObjectRef, { result: boolean }>('IsActive', (ref) => {
      return { result: value(resolve(ref)) > threshold(ref) };
    }),

    GetMetricSpec: unary<ScaledObjectRef, unknown>('GetMetricSpec', (ref) => {
      const { w, metric } = resolve(ref);
      const raw = ref.scalerMetadata?.targetValue;
      // Predicted load per replica = capacityPerReplica gives ceil(load / capacity) replicas under an
      // AverageValue target; the replica counts are targets of 1.
      const target = raw !== undefined ? Number(raw) : metric === 'shadowscale_predicted_load' ? w.capacityPerReplica : 1;
      if (!(target > 0)) throw new ScalerError(grpc.status.INVALID_ARGUMENT, `trigger metadata "targetValue": "${raw}" must be a positive number`);
      return { metricSpecs: [{ metricName: metric, targetSize: Math.max(1, Math.round(target)), targetSizeFloat: target }] };
    }),

    GetMetrics: unary<{ scaledObjectRef: ScaledObjectRef; metricName: string }, unknown>('GetMetrics', (req) => {
      const trigger = resolve(req.scaledObjectRef);
      const { metric } = trigger;
      if (req.metricName && req.metricName !== metric) {
        throw new ScalerError(grpc.status.INVALID_ARGUMENT, `metricName "${req.metricName}" differs from the trigger's metric "${metric}"`);
      }
      const v = value(trigger);
      return { metricValues: [{ metricName: metric, metricValue: Math.round(v), metricValueFloat: v }] };
    }),

    StreamIsActive: (call: grpc.ServerWritableStream<ScaledObjectRef, { result: boolean }>) => {
      let last: boolean | undefined;
      const push = () => {
        try {
          const active = value(resolve(call.request)) > threshold(call.request);
          if (active !== last) call.write({ result: active });
          last = active;
        } catch (error) {
          clearInterval(timer);
          call.destroy(Object.assign(new Error((error as Error).message), { code: error instanceof ScalerError ? error.code : grpc.status.INTERNAL }));
        }
      };
      // Push on open, then whenever activity changes.
      const timer = setInterval(push, 1000);
      push();
      call.on('cancelled', () => clearInterval(timer));
      call.on('close', () => clearInterval(timer));
    },

    // StreamMetricSpec is optional in KEDA and left out: grpc-js answers UNIMPLEMENTED for it, and
    // KEDA then polls GetMetricSpec.
  };
}

/** TLS of the gRPC listener: its certificate, and the CA of the client certificates it requires (KEDA's `tlsClientCert`). */
export interface GrpcTls {
  cert: string;
  key: string;
  clientCA?: string;
}

export async function startKedaServer(address: string, loop: ForecastLoop, metrics: AdapterMetrics, tls?: GrpcTls): Promise<{ server: grpc.Server; port: number }> {
  const proto = loadExternalScalerProto() as unknown as { externalscaler: { ExternalScaler: grpc.ServiceClientConstructor } };
  const server = new grpc.Server();
  server.addService(proto.externalscaler.ExternalScaler.service, createKedaService(loop, metrics));
  const credentials = tls
    ? grpc.ServerCredentials.createSsl(tls.clientCA ? Buffer.from(tls.clientCA) : null, [{ cert_chain: Buffer.from(tls.cert), private_key: Buffer.from(tls.key) }], tls.clientCA !== undefined)
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(address, credentials, (error, p) => (error ? reject(error) : resolve(p))));
  return { server, port };
}
