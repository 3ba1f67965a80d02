import type { RouteTable } from './route-table.js';

/** The `GET /v1/models` list: one model object per route (the names clients ask for). */
export function modelList(table: RouteTable, created: number): string {
  return JSON.stringify({ object: 'list', data: [...table.routes.keys()].map((id) => modelObject(id, created)) });
}

/** One OpenAI model object. */
export function modelObject(id: string, created: number): Record<string, unknown> {
  return { id, object: 'model', created, owned_by: 'ballast' };
}
