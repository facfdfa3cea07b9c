/** A BENCH_* variable bench/run.ts sets for the baseline processes; missing means a wrong start. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}
