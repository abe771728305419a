#!/usr/bin/env node
// The `ficus` command. TypeScript sources are loaded through tsx, so there is no build step.
import { register } from 'tsx/esm/api';

register();
const { main, exitQuietlyOnBrokenPipe } = await import('../src/cli/main.ts');
exitQuietlyOnBrokenPipe();
await main(process.argv);
