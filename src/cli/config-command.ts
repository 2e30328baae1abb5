import type { Command } from 'commander';
import type { Context } from './context.js';
import { print, printJson } from './output.js';
import type { Runner } from './program.js';

/** Secrets read from the environment when jobs run: shown only as set (masked) or not set. */
const ENV_SECRETS = ['GITHUB_TOKEN', 'OPENAI_API_KEY'] as const;

/** `gitroast config [--json]`: the effective configuration, secrets masked. */
export function registerConfig(program: Command, ctx: Context, run: Runner): void {
  program
    .command('config')
    .description('print the effective configuration (file <- environment), secrets masked')
    .option('--json', 'print JSON')
    .action(run(async (opts: { json?: boolean }) => {
      const { maskConfig, flattenConfig, warnExposedSecrets } = await import('./config.js');
      // --config is the program's global option.
      const loaded = await ctx.loadConfig();
      warnExposedSecrets(loaded);
      const masked = maskConfig(loaded.config);
      const environment = Object.fromEntries(ENV_SECRETS.map((k) => [k, process.env[k]?.trim() ? '********' : null]));
      if (opts.json) return printJson({ file: loaded.file ?? null, config: masked, sources: loaded.sources, environment });
      print(`# file: ${loaded.file ?? '(none: defaults and environment)'}`);
      for (const [k, v] of flattenConfig(masked as unknown as Record<string, unknown>)) {
        const src = loaded.sources[k];
        print(`${k} = ${JSON.stringify(v)}${src ? `  # ${src}` : ''}`);
      }
      for (const [k, v] of Object.entries(environment)) print(`${k} = ${v === null ? '(not set)' : JSON.stringify(v)}  # env ${k}, secret`);
    }));
}
