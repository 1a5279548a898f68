import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

/**
 * zod with `.openapi()` for schemas written for the docs (response shapes). Docs modules import `z`
 * from here so the extension is installed before their top-level schemas are built. Request
 * schemas stay in the features' schema files and are imported as they are.
 */
extendZodWithOpenApi(z);

/**
 * Adds documentation (description, pattern, examples…) to a schema object the routers already
 * validate with, without copying it: the metadata goes into zod's global registry under that very
 * object, which zod-to-openapi reads. It never changes how the schema validates.
 */
export function describeSchema(schema: z.ZodType, meta: Record<string, unknown>): void {
  z.globalRegistry.add(schema, { ...(z.globalRegistry.get(schema) ?? {}), ...meta });
}

export { z };
