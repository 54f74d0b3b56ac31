/** A configuration that cannot run: every problem found, so one message lists them all. */
export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    prefix = "",
  ) {
    super(`invalid configuration${prefix ? ` (${prefix}*)` : ""}:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}
