import type { GatewayConfig } from '../gateway/config-schema.js';

/** One line per route: its name, strategy and targets in order (`provider/model (type)`), no secrets. */
export function describeRoutes(config: GatewayConfig): string[] {
  const names = Object.keys(config.routes);
  const width = Math.max(...names.map((n) => n.length));
  return names.map((name) => {
    const route = config.routes[name]!;
    const strategy = typeof route.strategy === 'object' ? route.strategy.name : (route.strategy ?? 'priority');
    const extras = [route.hedge ? 'hedged' : '', route.resume ? 'resumes streams' : '', route.rules?.length ? 'rules' : ''].filter(Boolean);
    const targets = route.targets.map((t) => `${t.provider}/${t.model} (${config.providers[t.provider]?.type ?? '?'})`);
    return `  ${name.padEnd(width)}  ${strategy}${extras.length ? `, ${extras.join(', ')}` : ''}: ${targets.join(' -> ')}`;
  });
}

/** `2 providers (openai, anthropic), 3 routes`. */
export function summarize(config: GatewayConfig): string {
  const providers = Object.keys(config.providers);
  const routes = Object.keys(config.routes);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  return `${plural(providers.length, 'provider')} (${providers.join(', ')}), ${plural(routes.length, 'route')} (${routes.join(', ')})`;
}
