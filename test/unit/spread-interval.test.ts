import { describe, expect, it } from 'vitest';
import { spreadInterval } from '../../src/temporal/schedules.js';

const phaseOf = (key: string, every = 3600) => Number(String(spreadInterval(every, key).intervals![0]!.offset).replace(/s$/, ''));

describe('spreadInterval', () => {
  it('gives each key a stable phase within the interval', () => {
    expect(spreadInterval(3600, 'con_a')).toEqual(spreadInterval(3600, 'con_a'));
    for (const every of [60, 3600, 7 * 86_400]) {
      const phase = phaseOf('con_a', every);
      expect(Number.isInteger(phase) && phase >= 0 && phase < every).toBe(true);
    }
  });

  it('spreads 100 connections over the hour instead of stacking them on it', () => {
    const phases = Array.from({ length: 100 }, (_, i) => phaseOf(`con_${i}`));
    expect(new Set(phases).size).toBeGreaterThan(95);
    // Every quarter of the hour gets some.
    for (let q = 0; q < 4; q++) expect(phases.filter((p) => Math.floor(p / 900) === q).length).toBeGreaterThan(10);
  });
});
