// `kestrel config print [-c FILE] [--json]`: the effective configuration, secrets masked.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../../config/load.js';
import { configToYaml, displayConfig } from '../../config/print.js';

const HELP = `usage: kestrel config print|check [-c FILE] [--db FILE] [-r PATH]... [--json]

Shows the effective configuration: defaults, then kestrel.yaml (or -c FILE / $KESTREL_CONFIG),
then KESTREL_* environment overrides, with secrets masked.
Exit codes: 0 ok, 2 invalid configuration.`;

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        db: { type: 'string' },
        rules: { type: 'string', short: 'r', multiple: true },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    process.stderr.write(`kestrel config: ${e instanceof Error ? e.message : String(e)}\n${HELP}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const sub = positionals[0] ?? 'print';
  if (sub !== 'print' && sub !== 'check') {
    process.stderr.write(`kestrel config: unknown subcommand '${sub}'\n${HELP}\n`);
    return 2;
  }
  try {
    const overrides: { db?: string; rules?: string[] } = {};
    if (values.db !== undefined) overrides.db = values.db;
    if (values.rules !== undefined && values.rules.length > 0) overrides.rules = values.rules;
    const { config, file } = loadConfig({ file: values.config, overrides });
    if (sub === 'check') {
      process.stdout.write(`configuration ok${file === undefined ? ' (defaults)' : ` (${file})`}\n`);
    } else if (values.json === true) {
      process.stdout.write(JSON.stringify(displayConfig(config), null, 2) + '\n');
    } else {
      process.stdout.write(`# effective configuration${file === undefined ? ' (built-in defaults)' : ` from ${file}`}\n`);
      process.stdout.write(configToYaml(config));
    }
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`kestrel: invalid configuration:\n${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
