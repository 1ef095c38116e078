#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, resolved from this package, so the executable
// works from any directory without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv);
