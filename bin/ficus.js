#!/usr/bin/env node
// The `ficus` command. TypeScript sources are loaded through tsx, so there is no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
