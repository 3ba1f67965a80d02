import type { ConfigProblem } from './config-problems.js';
import { formatPath } from './config-problems.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The checks that need two parts of a config at once: every target names a configured
 * provider, target ids are unique per route, rules name targets of their route, and there is at
 * least one route. Reads the raw value defensively, so it can run next to the schema and report
 * these problems even when other parts of the config are wrong too.
 */
export function referenceProblems(config: unknown): ConfigProblem[] {
  if (!isObject(config)) return [];
  const problems: ConfigProblem[] = [];
  const providers = isObject(config.providers) ? Object.keys(config.providers) : [];
  const routes = config.routes;
  if (isObject(routes) && Object.keys(routes).length === 0) {
    problems.push({ path: 'routes', expected: 'at least one route', got: 'none' });
  }
  if (!isObject(routes)) return problems;
  const known = providers.length ? `the name of a configured provider (${providers.join(', ')})` : 'the name of a configured provider (none is configured)';
  for (const [name, route] of Object.entries(routes)) {
    if (!isObject(route) || !Array.isArray(route.targets)) continue;
    const ids = new Set<string>();
    route.targets.forEach((target: unknown, i) => {
      if (!isObject(target)) return;
      const { provider, model, id } = target;
      if (typeof provider === 'string' && provider !== '' && !providers.includes(provider)) {
        problems.push({ path: formatPath(['routes', name, 'targets', i, 'provider']), expected: known, got: JSON.stringify(provider) });
      }
      const targetId = typeof id === 'string' ? id : `${String(provider)}/${String(model)}`;
      if (ids.has(targetId)) {
        problems.push({
          path: formatPath(['routes', name, 'targets', i, typeof id === 'string' ? 'id' : 'model']),
          expected: 'a target id unique in the route (set `id` to tell two targets of one provider and model apart)',
          got: `a second ${JSON.stringify(targetId)}`,
        });
      }
      ids.add(targetId);
    });
    if (!Array.isArray(route.rules)) continue;
    route.rules.forEach((rule: unknown, i) => {
      const use = isObject(rule) && isObject(rule.use) ? rule.use : undefined;
      if (!use || !Array.isArray(use.ids)) return;
      use.ids.forEach((id: unknown, j) => {
        if (typeof id === 'string' && !ids.has(id)) {
          problems.push({
            path: formatPath(['routes', name, 'rules', i, 'use', 'ids', j]),
            expected: `the id of a target of this route (${[...ids].join(', ')})`,
            got: JSON.stringify(id),
          });
        }
      });
    });
  }
  return problems;
}
