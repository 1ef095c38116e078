/** The simulator's policies by name, without loading them (the CLI's help lists them). */
export const POLICY_NAMES = ['hpa', 'holt-winters', 'shadowscale', 'shadowscale+pool', 'shadowscale+spill', 'shadowscale+perfect-forecast', 'shadowscale+spill+hindsight-choice', 'shadowscale+spill+peak-error-0.75', 'shadowscale+spill+peak-error-0.5', 'oracle'] as const;
