import { main as run } from './program.js';
import { registerCommands } from './commands.js';

/** Run gitroast with every command group registered; resolves to the exit code. */
export function main(argv: readonly string[]): Promise<number> {
  return run(argv, registerCommands);
}
