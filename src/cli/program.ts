import { Command, CommanderError } from 'commander';
import { safeLine } from '../util/terminal.js';
import { classify, Context, EXIT } from './context.js';
import { registerFailed } from './failed.js';
import { registerJobs, registerQueue } from './queue.js';
import { registerStatus } from './status.js';
import { registerTags } from './tags.js';
import { VERSION } from './version.js';

/** A command group: adds its commands to the program. */
export type Register = (program: Command, ctx: Context, run: Runner) => void;

/** Wrap an action so its errors become exit codes and one line on stderr. */
export type Runner = <A extends unknown[]>(action: (...args: A) => Promise<void> | void) => (...args: A) => Promise<void>;

/** Build the gitroast program. Command groups register lazily-loading actions. */
function buildProgram(extra: readonly Register[] = []): { program: Command; ctx: Context } {
  const program = new Command('gitroast');
  const ctx = new Context(program);
  program
    .description('Review GitHub profiles on a durable SQLite job queue, with a daemon and a terminal monitor.')
    .version(VERSION, '-V, --version')
    .option('--db <path>', 'database file or postgres:// URL (env GITROAST_DB; default $XDG_DATA_HOME/gitroast/gitroast.db)')
    .option('--config <path>', 'config file (env GITROAST_CONFIG; default $XDG_CONFIG_HOME/gitroast/config.json)')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str.trimEnd().split('\n')[0] + '\n') });
  const run: Runner = (action) => async (...args) => {
    try {
      await action(...args);
    } finally {
      await ctx.close();
    }
  };
  for (const register of [registerStatus, registerFailed, registerQueue, registerJobs, registerTags, ...extra]) register(program, ctx, run);
  return { program, ctx };
}

/** Run the CLI with `argv` and return the exit code. */
export async function main(argv: readonly string[], extra: readonly Register[] = []): Promise<number> {
  const { program } = buildProgram(extra);
  try {
    await program.parseAsync(argv as string[]);
    return process.exitCode === undefined ? EXIT.ok : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
      // Commander has printed its one line already (unknown command or flag, missing argument).
      return EXIT.usage;
    }
    const { code, message } = classify(err);
    if (message) process.stderr.write(`gitroast: ${safeLine(message)}\n`);
    if (code === EXIT.failed && !(err instanceof Error && err.name === 'WorkFailed') && process.env.GITROAST_DEBUG && err instanceof Error) {
      process.stderr.write(`${err.stack}\n`);
    }
    return code;
  }
}

