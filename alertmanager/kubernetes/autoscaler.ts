/** What scales the serving set: the HPA or a KEDA ScaledObject, one file each. */
export interface Autoscaler {
  /** Which set it scales, its floor, its ceiling, and the lowest floor it accepts. */
  observe(): Promise<{ target: string; minReplicas: number; maxReplicas?: number; lowest: number }>;
  /** Retargets it and sets its floor, and its ceiling when `maxReplicas` is given. */
  set(target: { kind: 'Deployment' | 'StatefulSet'; name: string }, minReplicas: number, maxReplicas?: number): Promise<void>;
}
