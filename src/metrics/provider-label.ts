/**
 * The `provider` label of a metric: the name of a built-in provider (Stripe, a definition file), or
 * `declarative` for every provider a tenant registered. A tenant chooses those names and may register
 * as many as its quota allows; as label values they would add series without bound and show one
 * tenant's names to whoever reads the metrics. `none` (a payment before routing) passes through.
 */
export const TENANT_PROVIDER_LABEL = 'declarative';

export function providerLabel(provider: string, registry: { isBuiltIn(type: string): boolean }): string {
  return provider === 'none' || registry.isBuiltIn(provider) ? provider : TENANT_PROVIDER_LABEL;
}
