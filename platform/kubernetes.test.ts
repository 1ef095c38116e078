import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { podNamespace } from './kubernetes.ts';

describe('podNamespace', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'shadowscale-sa-')), 'namespace');
  writeFileSync(file, 'autoscaling\n');

  it("is $POD_NAMESPACE (the downward API), else the ServiceAccount's namespace file, else default", () => {
    expect(podNamespace({ POD_NAMESPACE: 'from-env' }, file)).toBe('from-env');
    expect(podNamespace({}, file)).toBe('autoscaling');
    expect(podNamespace({}, join(tmpdir(), 'no-such-dir', 'namespace'))).toBe('default');
  });
});
