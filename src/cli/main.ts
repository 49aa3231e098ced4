#!/usr/bin/env node
// Entry of the `pitcrew` command.
import { runCli } from './program.js';

// `pitcrew deployments --csv | head -1`: once the reader has gone, nothing more can be said to it. Leave quietly
// (as the command would have ended anyway) instead of dying with an EPIPE stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

process.exitCode = await runCli(process.argv);
