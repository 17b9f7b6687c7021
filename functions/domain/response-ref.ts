import type * as z from 'zod/mini';
import type { ResponseRef } from '#platform/http.ts';
import type * as responses from './responses.ts';

type Responses = typeof responses;

/** The names of the schemas in responses.ts. */
export type ResponseName = {
  [K in keyof Responses]: Responses[K] extends z.ZodMiniType ? K : never;
}[keyof Responses];

/**
 * Names an HTTP route's success body: its handler's answer is typed by the
 * schema, and the documents render the schema. Only the name is bundled.
 */
export const responseRef = <K extends ResponseName>(
  name: K,
): ResponseRef<z.output<Responses[K]>> => ({
  name,
});
