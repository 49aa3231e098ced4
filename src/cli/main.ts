#!/usr/bin/env node
// Entry of the `pitcrew` command.
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv);
