import { describe, expect, it } from 'vitest';
import { describeGeneralization, GENERALIZATION_STEPS, NOT_IN_THIS_IMAGE } from './generalization.js';

describe('the generalisation part of a report summary', () => {
  it('names the steps done, says nothing where the master carried nothing, and says when the image turned it off', () => {
    const steps = GENERALIZATION_STEPS.map((step) => ({ step, done: step === 'machine-id' || step === 'logfiles', note: 'x' }));
    expect(describeGeneralization(steps)).toBe('generalised: machine-id, logfiles');
    expect(describeGeneralization(GENERALIZATION_STEPS.map((step) => ({ step, done: false, note: NOT_IN_THIS_IMAGE })))).toBeNull();
    expect(describeGeneralization(null)).toBe('not generalised (turned off for this image)');
  });
});
