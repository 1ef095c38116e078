import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { kubeConfigFor, podNamespace } from './kubernetes.ts';

describe('podNamespace', () => {
  it("is $POD_NAMESPACE (the downward API), else the current context's namespace (in a pod, the ServiceAccount's), else default", () => {
    // In a pod: client-node's in-cluster configuration reads the ServiceAccount's namespace file.
    const root = mkdtempSync(join(tmpdir(), 'shadowscale-sa-'));
    const dir = join(root, 'var', 'run', 'secrets', 'kubernetes.io', 'serviceaccount');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'namespace'), 'autoscaling');
    const inPod = new KubeConfig();
    inPod.loadFromCluster(root);
    expect(podNamespace({ POD_NAMESPACE: 'from-env' }, inPod)).toBe('from-env');
    expect(podNamespace({}, inPod)).toBe('autoscaling');
    // Outside: the kubeconfig's context, or default when it names none.
    const outside = kubeConfigFor('http://127.0.0.1:9');
    expect(podNamespace({}, outside)).toBe('default');
    outside.contexts[0] = { ...outside.contexts[0], namespace: 'team-a' };
    expect(podNamespace({}, outside)).toBe('team-a');
  });
});
