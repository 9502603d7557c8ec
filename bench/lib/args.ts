/**
 * `--name value` / `--flag` command-line parsing. Every scenario reads its own options through
 * these typed getters, so a typo in a number fails loudly instead of running the wrong load.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

export class Args {
  private readonly values = new Map<string, string | true>();
  private readonly positional: string[] = [];

  constructor(argv: string[]) {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i];
      if (!arg.startsWith('--')) {
        this.positional.push(arg);
        continue;
      }
      const eq = arg.indexOf('=');
      if (eq > 0) {
        this.values.set(arg.slice(2, eq), arg.slice(eq + 1));
      } else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) {
        this.values.set(arg.slice(2), argv[++i]);
      } else {
        this.values.set(arg.slice(2), true);
      }
    }
  }

  get scenario(): string | undefined {
    return this.positional[0];
  }

  num(name: string, fallback: number, bounds: { min: number; max: number }): number {
    const raw = this.values.get(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (raw === true || !Number.isFinite(value) || value < bounds.min || value > bounds.max) {
      throw new UsageError(`--${name}: expected a number in [${bounds.min}, ${bounds.max}], got ${String(raw)}`);
    }
    return value;
  }

  int(name: string, fallback: number, bounds: { min: number; max: number }): number {
    const value = this.num(name, fallback, bounds);
    if (!Number.isInteger(value)) throw new UsageError(`--${name}: expected an integer, got ${value}`);
    return value;
  }

  flag(name: string): boolean {
    const raw = this.values.get(name);
    if (raw === undefined) return false;
    if (raw === true || raw === 'true') return true;
    if (raw === 'false') return false;
    throw new UsageError(`--${name} takes no value, got ${raw}`);
  }

  str(name: string): string | undefined {
    const raw = this.values.get(name);
    if (raw === true) throw new UsageError(`--${name}: expected a value`);
    return raw;
  }
}
