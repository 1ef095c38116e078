import { describe, expect, it } from 'vitest';

import type { ActionStep } from '../actuators/target.ts';
import { duplicateActions } from './chaos.ts';

describe('duplicateActions', () => {
  const route = (active: string): ActionStep => ({ kind: 'route', active, mirror: active === 'web' ? 'web-shadow' : 'web', mirrorPercent: 10, spill: 0, why: `to ${active}` });
  const scale = (set: string, from: number, replicas: number, why = 'w'): ActionStep => ({ kind: 'scale', set, from, replicas, why });

  it('finds a write that repeats the previous write of the same object, whatever its reason says', () => {
    expect(duplicateActions([route('web-shadow'), route('web-shadow')])).toEqual(['route {"kind":"route","active":"web-shadow","mirror":"web","mirrorPercent":10,"spill":0} twice in a row']);
    expect(duplicateActions([scale('web-shadow', 1, 5, 'grow'), scale('web-shadow', 1, 5, 'pre-scale')])).toHaveLength(1);
  });

  it('does not count moves back and forth, other objects in between, or the same size reached from elsewhere', () => {
    expect(duplicateActions([route('web-shadow'), route('web'), route('web-shadow')])).toEqual([]);
    expect(duplicateActions([scale('web-shadow', 1, 5), scale('web', 5, 1), scale('web-shadow', 5, 1), scale('web-shadow', 1, 5)])).toEqual([]);
    expect(duplicateActions([scale('web', 1, 5), scale('web-shadow', 1, 5)])).toEqual([]);
    expect(
      duplicateActions([
        { kind: 'autoscaler', target: 'web', minReplicas: 4, why: 'a' },
        { kind: 'autoscaler', target: 'web', minReplicas: 2, why: 'b' },
      ]),
    ).toEqual([]);
  });
});
