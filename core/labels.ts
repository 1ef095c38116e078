/**
 * The labels and annotations shadowscale reads and writes on Kubernetes objects: one list, shared by
 * the actuators, the shadow provisioner and the warm pool (their meaning: provisioner/README.md).
 */

export const ANNOTATIONS = {
  /** On the primary: how many warm shadows to keep (the pool's minimum); its presence enables shadows. */
  shadows: 'shadowscale.io/shadows',
  /** On the primary: share of its requests mirrored to the shadows, in percent. */
  mirrorPercent: 'shadowscale.io/mirror-percent',
  /** On the primary: resources of a shadow as a fraction of the primary's. */
  resources: 'shadowscale.io/shadow-resources',
  /** On the primary: the HTTPRoute (same namespace) whose rule sends to the primary's Service, to add the mirror to. */
  route: 'shadowscale.io/route',
  /** On the primary: the Service in front of it (default: the Deployment's name). */
  service: 'shadowscale.io/service',
  /**
   * On the primary: the most shadows the warm pool may hold; above `shadows`, pods leaving the
   * primary on a scale-down join the pool instead of being deleted. Default: `shadows` (no pool).
   */
  poolMax: 'shadowscale.io/pool-max',
  /** On the primary: seconds the pool stays above `shadows` without use before it shrinks. Default 600. */
  poolIdle: 'shadowscale.io/pool-idle-seconds',
  /** On the primary: its HorizontalPodAutoscaler (default: the Deployment's name). */
  hpa: 'shadowscale.io/hpa',
  /** On the shadow Deployment: when the pool last grew or was used (RFC 3339). */
  poolChangedAt: 'shadowscale.io/pool-changed-at',
  /** On a pod moved into the pool: the primary it left, and the primary's pod-template-hash then. */
  detachedFrom: 'shadowscale.io/detached-from',
  detachedTemplate: 'shadowscale.io/detached-template-hash',
  /** On the shadow: the hash of the primary template it was made from. */
  templateHash: 'shadowscale.io/template-hash',
} as const;

export const ROLE_LABEL = 'shadowscale.io/role';
export const SHADOW_OF_LABEL = 'shadowscale.io/shadow-of';

/** The label by which a namespace invites provisioning, when the configuration lists no namespaces. */
export const PROVISIONING_LABEL = 'shadowscale.io/provisioning';
