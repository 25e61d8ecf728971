// Params for unit tests: the schema's defaults (what validation fills in) under the values a test
// sets, so a fixture names only what it is about and a new defaulted param needs no fixture edit.
import type { Params } from '../../src/config.js';
import { defaultsLayer } from '../../src/params/layers.js';
import { paramsSchema } from '../../src/params/schema.js';

/** Valid params: the schema defaults, then `values` (which must give what the schema requires). */
export const withDefaults = (values: Partial<Params> & Pick<Params, 'image' | 'tags'>): Params =>
  ({ ...defaultsLayer(paramsSchema()).values, ...values }) as Params;
