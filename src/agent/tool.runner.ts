// Runs the filesystem tools customisation relies on (src/disk-layout/disk-tool.ts); a tool that is missing or
// fails to start is a customisation failure of this installation.
import { runDiskTool, type ToolResult } from '../disk-layout/disk-tool.js';
import { asCustomizeError } from './installer.errors.js';

export type { ToolResult } from '../disk-layout/disk-tool.js';

export function runTool(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ToolResult> {
  return runDiskTool(command, args, options).catch((error: unknown) => {
    throw asCustomizeError(error);
  });
}
