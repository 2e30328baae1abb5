#!/usr/bin/env node
import { main } from '../src/cli/main.js';
import { handleClosedPipes } from '../src/cli/output.js';

handleClosedPipes();
process.exitCode = await main(process.argv);
