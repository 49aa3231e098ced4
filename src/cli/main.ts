#!/usr/bin/env node
// Entry of the `pitcrew` command.
import { CommanderError } from 'commander';
import { buildProgram } from './program.js';
import { reportError } from './output.js';

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError && error.exitCode === 0) process.exit(0);
  reportError(error);
}
